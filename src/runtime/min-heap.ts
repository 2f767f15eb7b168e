/**
 * A binary min-heap of (due, value) pairs in typed arrays: 24 bytes an entry and no
 * object per entry, so a million scheduled wake-ups cost about 24 MB. Entries with the
 * same due time come out in insertion order.
 */
export class MinHeap {
  private due: Float64Array;
  private value: Float64Array;
  private order: Float64Array;
  private count = 0;
  private inserted = 0;

  constructor(capacity = 1024) {
    this.due = new Float64Array(capacity);
    this.value = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** The smallest due time, or Infinity when empty. */
  peekDue(): number {
    return this.count > 0 ? (this.due[0] as number) : Number.POSITIVE_INFINITY;
  }

  peekValue(): number | undefined {
    return this.count > 0 ? this.value[0] : undefined;
  }

  push(due: number, value: number): void {
    if (this.count === this.due.length) this.grow();
    let i = this.count++;
    const order = this.inserted++;
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(due, order, parent)) break;
      this.move(parent, i);
      i = parent;
    }
    this.due[i] = due;
    this.value[i] = value;
    this.order[i] = order;
  }

  /** Removes the smallest entry and returns its value. */
  pop(): number | undefined {
    if (this.count === 0) return undefined;
    const top = this.value[0];
    const last = --this.count;
    if (last > 0) {
      const due = this.due[last] as number;
      const value = this.value[last] as number;
      const order = this.order[last] as number;
      let i = 0;
      // Sift down.
      for (;;) {
        const left = 2 * i + 1;
        if (left >= last) break;
        const right = left + 1;
        const child = right < last && this.lessAt(right, left) ? right : left;
        if (!this.less(this.due[child] as number, this.order[child] as number, i, due, order)) {
          // `child` is not smaller than the moving entry: stop here.
          break;
        }
        this.move(child, i);
        i = child;
      }
      this.due[i] = due;
      this.value[i] = value;
      this.order[i] = order;
    }
    return top;
  }

  clear(): void {
    this.count = 0;
  }

  /** Is (due, order) smaller than the entry at `at` (or than the given pair)? */
  private less(due: number, order: number, at: number, atDue?: number, atOrder?: number): boolean {
    const otherDue = atDue ?? (this.due[at] as number);
    const otherOrder = atOrder ?? (this.order[at] as number);
    return due < otherDue || (due === otherDue && order < otherOrder);
  }

  private lessAt(a: number, b: number): boolean {
    return this.less(this.due[a] as number, this.order[a] as number, b);
  }

  private move(from: number, to: number) {
    this.due[to] = this.due[from] as number;
    this.value[to] = this.value[from] as number;
    this.order[to] = this.order[from] as number;
  }

  private grow() {
    const capacity = this.due.length * 2;
    const grow = (old: Float64Array) => {
      const next = new Float64Array(capacity);
      next.set(old);
      return next;
    };
    this.due = grow(this.due);
    this.value = grow(this.value);
    this.order = grow(this.order);
  }
}
