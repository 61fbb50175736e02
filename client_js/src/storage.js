// @ts-check
/**
 * Storage that never throws. `sessionStorage`/`localStorage` can be missing,
 * blocked (sandboxed iframes, some privacy settings) or full; Tandem then
 * keeps its state in memory for the life of the page instead.
 */

/**
 * @typedef {object} StorageLike
 * @property {(key: string) => string | null} getItem
 * @property {(key: string, value: string) => void} setItem
 * @property {(key: string) => void} [removeItem]
 */

/** A Storage-like map in memory (tests, and the fallback when real storage is unavailable). */
export class MemoryStorage {
  constructor() {
    /** @type {Map<string, string>} */
    this.items = new Map();
  }
  /** @param {string} key */
  getItem(key) {
    return this.items.get(key) ?? null;
  }
  /** @param {string} key @param {string} value */
  setItem(key, value) {
    this.items.set(key, String(value));
  }
  /** @param {string} key */
  removeItem(key) {
    this.items.delete(key);
  }
}

/**
 * Wrap a storage so that reads and writes never throw. A write that fails
 * (quota) is kept in memory so that this page still reads it back.
 * @param {() => StorageLike | null | undefined} open e.g. `() => window.sessionStorage`
 * @returns {Required<StorageLike>}
 */
export function safeStorage(open) {
  /** @type {StorageLike | null} */
  let real = null;
  try {
    real = open() ?? null;
  } catch {
    real = null;
  }
  const memory = new MemoryStorage();
  return {
    getItem(key) {
      if (memory.items.has(key)) return memory.getItem(key);
      try {
        return real ? real.getItem(key) : null;
      } catch {
        return null;
      }
    },
    setItem(key, value) {
      try {
        if (!real) throw new Error("no storage");
        real.setItem(key, value);
        memory.removeItem(key);
      } catch {
        memory.setItem(key, value);
      }
    },
    removeItem(key) {
      memory.removeItem(key);
      try {
        real?.removeItem?.(key);
      } catch {
        // nothing to do: it is gone from memory, and unreadable in storage anyway
      }
    },
  };
}

/**
 * Read a JSON value; null when missing or unreadable.
 * @param {StorageLike} storage
 * @param {string} key
 * @returns {unknown}
 */
export function readJson(storage, key) {
  try {
    const text = storage.getItem(key);
    return text === null ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Write a JSON value; returns false when storage refused it.
 * @param {StorageLike} storage
 * @param {string} key
 * @param {unknown} value
 */
export function writeJson(storage, key, value) {
  try {
    storage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}
