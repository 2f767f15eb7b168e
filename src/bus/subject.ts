/**
 * NATS subject rules and a subscription index. A subject is dot-separated tokens
 * (`fw.agent.a1.cmd`); a pattern may use `*` for exactly one token and `>` as its last
 * token for one or more trailing tokens. As in NATS, `*` and `>` are wildcards only as
 * whole tokens: `a*` is a literal token.
 */
import { InvalidInputError } from "../errors";

const DOT = 46;
const STAR = 42;
const GT = 62;

/**
 * One pass over the characters, no allocation: this runs on every publish whose
 * subject is not in the index's cache.
 */
function scan(text: string, wildcards: boolean): boolean {
  const length = text.length;
  if (length === 0) return false;
  let tokenStart = 0;
  for (let i = 0; i <= length; i++) {
    const code = i === length ? DOT : text.charCodeAt(i);
    if (code === DOT) {
      const tokenLength = i - tokenStart;
      if (tokenLength === 0) return false;
      if (tokenLength === 1) {
        const first = text.charCodeAt(tokenStart);
        if (first === STAR || first === GT) {
          if (!wildcards) return false;
          if (first === GT && i !== length) return false;
        }
      }
      tokenStart = i + 1;
    } else if (code <= 0x20 || code === 0x7f) {
      // NATS splits its protocol lines on whitespace; control characters have no
      // business in a subject either.
      return false;
    }
  }
  return true;
}

/** A concrete subject one can publish on: no empty tokens, no whitespace, no wildcards. */
export function isValidSubject(subject: string): boolean {
  return scan(subject, false);
}

/** A subject or a subscription pattern: `*` anywhere as a whole token, `>` only last. */
export function isValidPattern(pattern: string): boolean {
  return scan(pattern, true);
}

/** A queue group name: non-empty, no whitespace or control characters. */
export function isValidQueueName(queue: string): boolean {
  if (queue.length === 0) return false;
  for (let i = 0; i < queue.length; i++) {
    const code = queue.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return false;
  }
  return true;
}

interface Node<T> {
  literal: Map<string, Node<T>> | undefined;
  star: Node<T> | undefined;
  /** Values whose pattern ends at this node. */
  exact: T[] | undefined;
  /** Values whose pattern continues with `>` after this node. */
  rest: T[] | undefined;
}

function newNode<T>(): Node<T> {
  return { literal: undefined, star: undefined, exact: undefined, rest: undefined };
}

function isEmpty<T>(node: Node<T>): boolean {
  return (
    node.exact === undefined &&
    node.rest === undefined &&
    node.star === undefined &&
    (node.literal === undefined || node.literal.size === 0)
  );
}

const EMPTY: readonly never[] = Object.freeze([]);

export interface SubjectIndexOptions {
  /**
   * How many subjects' results to remember. Most publishes repeat a few subjects, so a
   * hit answers with one map lookup and no allocation. 0 turns the cache off.
   * @default 1024
   */
  readonly cacheSize?: number;
}

/**
 * Values filed under subject patterns, found by concrete subject. A token trie, with a
 * bounded cache of results in front of it that any `add` or `remove` clears.
 *
 * A value added under two patterns that both match a subject is returned twice: each
 * (pattern, value) pair is its own entry, like a NATS subscription.
 */
export class SubjectIndex<T> {
  private readonly root: Node<T> = newNode();
  private readonly cache = new Map<string, readonly T[]>();
  private readonly cacheSize: number;
  private entries = 0;

  constructor(options: SubjectIndexOptions = {}) {
    const cacheSize = options.cacheSize ?? 1024;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new InvalidInputError(`cache size must be a whole number >= 0, got ${cacheSize}`);
    }
    this.cacheSize = cacheSize;
  }

  /** How many (pattern, value) entries the index holds. */
  get size(): number {
    return this.entries;
  }

  /** Files `value` under `pattern`. Throws `InvalidInputError` on an invalid pattern. */
  add(pattern: string, value: T): void {
    if (!isValidPattern(pattern)) {
      throw new InvalidInputError(`invalid subject pattern "${pattern}"`, "pattern");
    }
    let node = this.root;
    const tokens = pattern.split(".");
    const last = tokens.length - 1;
    for (let i = 0; i < last; i++) node = child(node, tokens[i] as string);
    const final = tokens[last] as string;
    if (final === ">") {
      node.rest ??= [];
      node.rest.push(value);
    } else {
      node = child(node, final);
      node.exact ??= [];
      node.exact.push(value);
    }
    this.entries++;
    this.cache.clear();
  }

  /** Removes one entry of `value` under `pattern`; false when there was none. */
  remove(pattern: string, value: T): boolean {
    if (!isValidPattern(pattern)) return false;
    const tokens = pattern.split(".");
    const final = tokens[tokens.length - 1];
    const depth = final === ">" ? tokens.length - 1 : tokens.length;
    // The walk keeps the path so emptied nodes can be pruned on the way back: subjects
    // such as fw.out.<taskId>.<agentId> would otherwise leave a node per task behind.
    const path: Node<T>[] = [this.root];
    let node = this.root;
    for (let i = 0; i < depth; i++) {
      const token = tokens[i] as string;
      const next = token === "*" ? node.star : node.literal?.get(token);
      if (next === undefined) return false;
      path.push(next);
      node = next;
    }
    const key = final === ">" ? "rest" : "exact";
    const list = node[key];
    const at = list === undefined ? -1 : list.indexOf(value);
    if (list === undefined || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) node[key] = undefined;
    for (let i = depth; i > 0; i--) {
      const current = path[i] as Node<T>;
      if (!isEmpty(current)) break;
      const parent = path[i - 1] as Node<T>;
      const token = tokens[i - 1] as string;
      if (token === "*") parent.star = undefined;
      else parent.literal?.delete(token);
    }
    this.entries--;
    this.cache.clear();
    return true;
  }

  /**
   * The values whose pattern matches `subject`. The array is shared: the same instance
   * comes back for a subject until the index changes, so callers may key derived data
   * on it, and must not mutate it. Throws `InvalidInputError` on an invalid subject.
   */
  match(subject: string): readonly T[] {
    const cached = this.cache.get(subject);
    if (cached !== undefined) return cached;
    if (!isValidSubject(subject)) {
      throw new InvalidInputError(`invalid subject "${subject}"`, "subject");
    }
    const found: T[] = [];
    collect(this.root, subject, 0, found);
    const result: readonly T[] = found.length === 0 ? EMPTY : found;
    if (this.cacheSize > 0) {
      // Starting over when full costs far less per miss than evicting one entry at a
      // time (3x on a stream of unique subjects), and hot subjects return at once.
      if (this.cache.size >= this.cacheSize) this.cache.clear();
      this.cache.set(subject, result);
    }
    return result;
  }
}

function child<T>(node: Node<T>, token: string): Node<T> {
  if (token === "*") {
    node.star ??= newNode();
    return node.star;
  }
  node.literal ??= new Map();
  let next = node.literal.get(token);
  if (next === undefined) {
    next = newNode();
    node.literal.set(token, next);
  }
  return next;
}

/** Walks the subject in place, token by token, instead of splitting it into an array. */
function collect<T>(node: Node<T>, subject: string, start: number, found: T[]): void {
  if (start > subject.length) {
    if (node.exact !== undefined) append(found, node.exact);
    return;
  }
  // `>` needs at least one more token, which `start <= subject.length` guarantees here.
  if (node.rest !== undefined) append(found, node.rest);
  let end = subject.indexOf(".", start);
  if (end < 0) end = subject.length;
  if (node.literal !== undefined) {
    const next = node.literal.get(subject.slice(start, end));
    if (next !== undefined) collect(next, subject, end + 1, found);
  }
  if (node.star !== undefined) collect(node.star, subject, end + 1, found);
}

/** Not `push(...from)`: spreading a long list as arguments can overflow the stack. */
function append<T>(to: T[], from: readonly T[]): void {
  for (const value of from) to.push(value);
}
