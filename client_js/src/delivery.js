// @ts-check
/**
 * Delivering the tab's numbered data messages (docs/protocol.md, "Numbering,
 * acknowledgement and resending"): each is kept in the outbox until the server
 * acknowledges it, sent once per socket, in order, starting after what the
 * server already stored. A refused message leaves the outbox, except one
 * refused for want of an identity: that one is held and sent again.
 */
import { reportError } from "./events.js";
import { encodeChecked } from "./protocol.js";

/** @typedef {import("./protocol.js").DataMessage} DataMessage */
/** @typedef {import("./outbox.js").Outbox} Outbox */
/** @typedef {import("./events.js").Emit} Emit */

export class Delivery {
  /** @param {Outbox} outbox */
  constructor(outbox) {
    this.outbox = outbox;
    /** Highest cseq the server has stored. */
    this.lastAck = 0;
    /** Highest cseq sent on the current socket. */
    this.sentUpTo = 0;
  }

  /**
   * Number and keep a data message.
   * @param {(cseq: number) => DataMessage} build
   * @returns {DataMessage}
   * @throws what `build` throws, and `MessageTooLarge`: nothing is kept then
   */
  add(build) {
    return this.outbox.next((cseq) => {
      const built = build(cseq);
      encodeChecked(built); // never queue what the server would refuse as too large
      return built;
    });
  }

  /** A new socket: nothing was sent on it yet. */
  opened() {
    this.sentUpTo = 0;
  }

  /** @param {number} ack `welcome.ack`: the server stored these already; what follows goes again */
  welcomed(ack) {
    this.outbox.ackUpTo(ack);
    this.lastAck = ack;
    this.sentUpTo = ack;
  }

  /** @param {number} upto `ack`: the server stored these */
  acked(upto) {
    this.outbox.ackUpTo(upto);
    this.lastAck = Math.max(this.lastAck, upto);
  }

  /**
   * The server refused a message.
   * @param {string} code
   * @param {number} cseq the message's number; 0 when the error named none
   */
  refused(code, cseq) {
    if (code === "identity_required") {
      // Held, not dropped: sent again once the visitor is identified.
      if (cseq) this.sentUpTo = Math.min(this.sentUpTo, cseq - 1);
    } else if (cseq) {
      this.outbox.drop(cseq); // it would be refused again
    }
  }

  /**
   * Send the messages not yet sent on this socket, in order.
   * @param {(bytes: Uint8Array) => void} send
   * @param {Emit} emit where to report a message that can no longer be encoded (it is dropped)
   */
  flush(send, emit) {
    for (const message of this.outbox.pending()) {
      if (message.cseq <= this.sentUpTo) continue;
      this.sentUpTo = message.cseq;
      /** @type {Uint8Array} */
      let bytes;
      try {
        bytes = encodeChecked(message);
      } catch (error) {
        this.outbox.drop(message.cseq);
        reportError(error, emit);
        continue;
      }
      send(bytes);
    }
  }
}
