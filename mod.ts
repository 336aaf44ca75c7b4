/**
 * A download manager: downloads that run in the background, never leave a
 * half-written file under its final name, can be canceled cleanly, report
 * progress, and keep a cache directory under a size limit. A TypeScript port
 * of the Python `dlmanager` 0.1.1, for Deno and Node.
 *
 * - {@linkcode DownloadManager} downloads into one directory, skipping files
 *   already there.
 * - {@linkcode Download} is one file fetched in the background.
 * - {@linkcode PersistLimit} keeps a directory under a size limit.
 * - {@linkcode DownloadInterrupt} and {@linkcode HTTPError} are what a
 *   download ends with when canceled or refused.
 *
 * @example Fetch a few files into a cache directory
 * ```ts
 * import { DownloadManager, PersistLimit } from "@x/dlmanager";
 *
 * await using manager = new DownloadManager("cache", {
 *   persistLimit: new PersistLimit(1024 ** 3),
 * });
 * for (const url of ["https://example.com/a.zip", "https://example.com/b.zip"]) {
 *   manager.download(url, {
 *     progress: (download, current, total) =>
 *       console.log(download.getDest(), current, total),
 *   });
 * }
 * await manager.wait();
 * ```
 *
 * @module
 */

export { Download } from "./src/download.ts";
export { DownloadStatus } from "./src/download_status.ts";
export type {
  CancelOptions,
  ConnectionProgress,
  DownloadOptions,
  DownloadState,
  EventsOptions,
  LockHolder,
  ProgressCallback,
  StateChangeCallback,
  WaitOptions,
} from "./src/download_options.ts";
export {
  DownloadErrorEvent,
  DownloadEvent,
  type DownloadEventMap,
  DownloadHostWaitEvent,
  DownloadProgressEvent,
  DownloadRetryEvent,
  DownloadStateEvent,
} from "./src/events.ts";
export {
  DownloadEventTarget,
  type ListenerOptions,
  type TypedListener,
} from "./src/download_event_target.ts";
export { DownloadManager } from "./src/download_manager.ts";
export type {
  DownloadManagerOptions,
  ManagerDownloadOptions,
  Revalidate,
} from "./src/download_manager_options.ts";
export {
  PersistLimit,
  type PersistLimitOptions,
  type RemoveOldFilesOptions,
} from "./src/persist_limit.ts";
export {
  DEFAULT_CHUNK_SIZE,
  MAX_CONNECTIONS,
  type RequestHeaders,
  type TransferOptions,
} from "./src/transfer_options.ts";
export {
  DownloadInterrupt,
  FileSystemError,
  HTTPError,
  type HTTPErrorOptions,
  IntegrityError,
  LockTimeoutError,
  ManagerClosedError,
  NetworkError,
  type NetworkErrorCode,
  ProtocolError,
  ProxyError,
  type ProxyErrorOptions,
  RedirectError,
  RetriesExhaustedError,
  TimeoutError,
} from "./src/errors.ts";
