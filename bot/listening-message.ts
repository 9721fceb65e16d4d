/**
 * The message the bot server (`bot/main.ts`) sends its parent process once it listens, when it was
 * started with an IPC channel. Its own module, so that a launcher (tests, benchmarks) reads it
 * without loading the server.
 */

/**
 * `type` of the message the server sends its parent process once it listens, when it was started
 * with an IPC channel (`spawn(..., { stdio: [..., 'ipc'] })`). With `PORT=0` the system picks a free
 * port as the server binds it, so nothing can take that port in between; the message is how the
 * parent (a test, a benchmark, a supervisor) learns which port it got.
 */
export const LISTENING_MESSAGE_TYPE = 'demand-desk-listening';

/** What the server sends its parent once it listens (see LISTENING_MESSAGE_TYPE). */
export interface ListeningMessage {
  type: typeof LISTENING_MESSAGE_TYPE;
  /** The port it listens on (the one the system picked when PORT=0). */
  port: number;
  /** Its base URL, http://HOST:port. */
  url: string;
}
