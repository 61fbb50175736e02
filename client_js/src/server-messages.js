// @ts-check
/**
 * Reading what the server sends (docs/protocol.md, "Server → client"): one
 * binary frame, one msgpack map, one kind. Fields are checked and
 * defaulted here, so the connection only sees well-typed values.
 */
import { ANON_ID, decode } from "./protocol.js";

/** @typedef {import("./protocol.js").AnonymousIdentity} AnonymousIdentity */
/** @typedef {import("./events.js").TandemErrorDetail} TandemErrorDetail */

/**
 * @typedef {{kind: "welcome", ack: number, user: string, anonymous: AnonymousIdentity | null, needsIdentity: boolean}} WelcomeMessage
 * @typedef {{kind: "ack", upto: number}} AckMessage
 * @typedef {{kind: "identified", user: string, anonymous: boolean}} IdentifiedMessage
 * @typedef {{kind: "error", code: string, message: string, field: string, cseq: number, req: number}} ErrorMessage
 * @typedef {{kind: "answer", req: number, message: Record<string, unknown>}} AnswerMessage
 *   an answer to a request (`offers`, `run`, `help_answer`), passed on as the server sent it
 * @typedef {{kind: "chat_line", session: string, sender: string, name: string, text: string, at: number}} ChatLineMessage
 * @typedef {{kind: "typed", session: string, name: string}} TypedMessage
 * @typedef {{kind: "cobrowse", message: Record<string, unknown>}} CobrowseMessage
 *   `cobrowse` and `remote` (docs/cobrowse.md), passed on as the server sent them
 * @typedef {WelcomeMessage | AckMessage | IdentifiedMessage | ErrorMessage | AnswerMessage | ChatLineMessage | TypedMessage | CobrowseMessage} ServerMessage
 */

/**
 * @param {unknown} data a frame's data, as the socket delivered it
 * @returns {ServerMessage}
 * @throws {TypeError} for a text frame or an unknown kind (and what `decode` throws for bytes that are not msgpack)
 */
export function readServerMessage(data) {
  if (!(data instanceof ArrayBuffer || data instanceof Uint8Array)) throw new TypeError("Tandem: expected a binary frame");
  const message = decode(data);
  switch (message.kind) {
    case "welcome":
      return {
        kind: "welcome",
        ack: int(message.ack),
        user: str(message.user),
        anonymous: anonymousOf(message.anonymous),
        needsIdentity: message.needs_identity === true,
      };
    case "ack":
      return { kind: "ack", upto: int(message.upto) };
    case "identified":
      return { kind: "identified", user: str(message.user), anonymous: message.anonymous === true };
    case "error":
      return {
        kind: "error", code: str(message.code), message: str(message.message), field: str(message.field),
        cseq: int(message.cseq), req: int(message.req),
      };
    case "chat_line":
      return {
        kind: "chat_line", session: str(message.session), sender: str(message.sender), name: str(message.name),
        text: str(message.text), at: int(message.at),
      };
    case "typed":
      return { kind: "typed", session: str(message.session), name: str(message.name) };
    case "cobrowse":
    case "remote":
      return { kind: "cobrowse", message };
    case "offers":
    case "run":
    case "help_answer":
      return { kind: "answer", req: int(message.req), message };
    default:
      throw new TypeError(`Tandem: unknown message kind ${JSON.stringify(message.kind)}`);
  }
}

/**
 * The `tandem:error` detail for a server error: field and cseq only when there are some.
 * @param {ErrorMessage} error
 * @returns {TandemErrorDetail}
 */
export function errorDetail(error) {
  /** @type {TandemErrorDetail} */
  const detail = { code: error.code, message: error.message };
  if (error.field) detail.field = error.field;
  if (error.cseq) detail.cseq = error.cseq;
  return detail;
}

/** @param {unknown} value */
function str(value) {
  return typeof value === "string" ? value : "";
}

/** @param {unknown} value */
function int(value) {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/**
 * @param {unknown} value
 * @returns {AnonymousIdentity | null}
 */
function anonymousOf(value) {
  if (typeof value !== "object" || value === null) return null;
  const { anon, sig } = /** @type {{anon?: unknown, sig?: unknown}} */ (value);
  return typeof anon === "string" && ANON_ID.test(anon) && typeof sig === "string" && sig ? { anon, sig } : null;
}
