/**
 * The state of the live connection to the coordinator's event stream, shown in the header:
 * - `connecting`: the first attempt is under way;
 * - `live`: the stream is open and the coordinator said hello;
 * - `reconnecting`: the stream was lost less than `offlineAfterMs` ago, retrying with backoff;
 * - `offline`: lost for longer (still retrying); `since` says when it was lost;
 * - `unauthorized`: the coordinator wants the token (sign in on the settings page).
 */
export type ConnectionStatus = "connecting" | "live" | "reconnecting" | "offline" | "unauthorized";

/** A snapshot of the live connection. Times are ms since the epoch (browser clock). */
export interface ConnectionState {
  status: ConnectionStatus;
  /** When this status began; for `reconnecting` and `offline`, when the stream was lost. */
  since: number;
  /** When the stream was last live; null before it ever was. */
  lastLiveAt: number | null;
  /** Failed attempts since the stream was last live. */
  attempt: number;
  /** When the next attempt starts; null while connected or connecting. */
  nextRetryAt: number | null;
  /** Why the last attempt failed; null when none did. */
  error: string | null;
}
