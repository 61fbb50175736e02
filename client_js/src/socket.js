// @ts-check
/**
 * One WebSocket as the connection uses it: what it needs of the browser's
 * class (a fake stands in for it in tests), opening one whose callbacks run
 * only while it is still the connection's current socket, and dropping one
 * without hearing from it again.
 */
import { reportError } from "./events.js";

/** @typedef {import("./events.js").Emit} Emit */

/**
 * What the connection needs of a WebSocket (the browser's, or a fake in tests).
 * @typedef {object} SocketLike
 * @property {string} binaryType
 * @property {(data: Uint8Array) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {(() => void) | null} onopen
 * @property {((event: {data: unknown}) => void) | null} onmessage
 * @property {((event: {code: number, reason: string}) => void) | null} onclose
 * @property {(() => void) | null} onerror
 */
/** @typedef {new (url: string) => SocketLike} SocketConstructor */

/**
 * @typedef {object} SocketHandlers
 * @property {(socket: SocketLike) => boolean} isCurrent whether the socket's events still matter
 * @property {(socket: SocketLike) => void} open
 * @property {(data: unknown) => void} frame
 * @property {(code: number, reason: string) => void} close
 * @property {Emit} emit where to report what a handler throws
 */

/**
 * Open a binary socket. Its events reach `on` while `on.isCurrent(socket)`; what a handler throws is reported.
 * @param {SocketConstructor} Socket
 * @param {string} url
 * @param {SocketHandlers} on
 * @returns {SocketLike}
 * @throws what the constructor throws (a malformed URL, a blocked port)
 */
export function openSocket(Socket, url, on) {
  const socket = new Socket(url);
  /** @param {() => void} fn */
  const guarded = (fn) => {
    if (!on.isCurrent(socket)) return;
    try {
      fn();
    } catch (error) {
      reportError(error, on.emit);
    }
  };
  socket.binaryType = "arraybuffer";
  socket.onopen = () => guarded(() => on.open(socket));
  socket.onmessage = (event) => guarded(() => on.frame(event.data));
  socket.onclose = (event) => guarded(() => on.close(event.code, event.reason));
  socket.onerror = () => {}; // a close event follows
  return socket;
}

/**
 * Close a socket from this side without its handlers running again.
 * @param {SocketLike} socket
 * @param {number} code
 * @param {string} reason
 */
export function detach(socket, code, reason) {
  socket.onopen = socket.onmessage = socket.onclose = null;
  socket.close(code, reason);
}
