/**
 * The one timer service. Every delay in the engine goes through it: XState `after`
 * delays (it is the actors' `clock`), and wake-ups of passivated entities, which cost
 * one heap entry and no closure. It keeps a single timer on the injected Clock, armed
 * for the earliest due entry.
 */
import type { Clock, TimerHandle } from "../clock";
import { outsideLogContext } from "../log";
import { MinHeap } from "./min-heap";

/** Real timers cannot wait longer than this; longer waits re-arm on the way. */
const MAX_TIMER_MS = 2_147_483_647;

export type WakeHandler = (id: number) => void;

export class TimerService {
  private readonly callbacks = new Map<number, () => void>();
  private readonly callbackHeap = new MinHeap();
  private readonly wakeHeap = new MinHeap();
  private nextHandle = 1;
  private armed: TimerHandle | null = null;
  private armedFor = Number.POSITIVE_INFINITY;
  private firing = false;
  private stopped = false;
  /** Callbacks due before this wait until it (see `hold`). */
  private heldUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onWake: WakeHandler = () => {},
  ) {}

  /** The XState clock contract: `delayMs` may be Infinity ("never"). */
  setTimeout = (callback: () => void, delayMs: number): number => {
    const handle = this.nextHandle++;
    if (!Number.isFinite(delayMs)) return handle;
    this.callbacks.set(handle, callback);
    this.callbackHeap.push(this.clock.now() + Math.max(0, delayMs), handle);
    this.arm();
    return handle;
  };

  clearTimeout = (handle: unknown): void => {
    // Lazy deletion: the heap entry stays and is skipped when it comes due.
    this.callbacks.delete(handle as number);
  };

  /** Calls the wake handler with `id` at `due`. Not cancellable: the handler checks. */
  wakeAt(due: number, id: number): void {
    this.wakeHeap.push(due, id);
    this.arm();
  }

  /**
   * Fires no callback until `release`: while the engine cannot hear its agents, a
   * deadline that passes says nothing about them (heartbeats, reports and starts are
   * held up in the same outage). Wake-ups of passivated tasks still fire.
   */
  hold(): void {
    this.heldUntil = Number.POSITIVE_INFINITY;
    this.rearm();
  }

  /** Ends a hold: callbacks that came due meanwhile fire `graceMs` from now, if still set. */
  release(graceMs: number): void {
    this.heldUntil = this.clock.now() + graceMs;
    this.rearm();
  }

  /** Timers waiting (including cleared ones not yet skipped). */
  get size(): { timers: number; wakeups: number } {
    return { timers: this.callbacks.size, wakeups: this.wakeHeap.size };
  }

  stop(): void {
    this.stopped = true;
    if (this.armed !== null) this.clock.clearTimeout(this.armed);
    this.armed = null;
  }

  private nextDue(): number {
    const callbackDue = Math.max(this.callbackHeap.peekDue(), this.heldUntil);
    return Math.min(callbackDue, this.wakeHeap.peekDue());
  }

  /** Arms for the next due entry from scratch (a hold moved it either way). */
  private rearm() {
    if (this.armed !== null) this.clock.clearTimeout(this.armed);
    this.armed = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.arm();
  }

  private arm() {
    if (this.firing || this.stopped) return;
    const due = this.nextDue();
    if (due >= this.armedFor) return;
    if (this.armed !== null) this.clock.clearTimeout(this.armed);
    this.armed = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (!Number.isFinite(due)) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, due - this.clock.now()));
    this.armedFor = due;
    // The timers of every task fire here: none of them belongs to the request that armed it.
    this.armed = this.clock.setTimeout(() => outsideLogContext(() => this.fire()), wait);
  }

  private fire() {
    this.armed = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.firing = true;
    try {
      for (;;) {
        const now = this.clock.now();
        const callbackDue = Math.max(this.callbackHeap.peekDue(), this.heldUntil);
        const wakeDue = this.wakeHeap.peekDue();
        if (callbackDue > now && wakeDue > now) break;
        if (callbackDue <= wakeDue) {
          const handle = this.callbackHeap.pop() as number;
          const callback = this.callbacks.get(handle);
          if (callback) {
            this.callbacks.delete(handle);
            callback();
          }
        } else {
          this.onWake(this.wakeHeap.pop() as number);
        }
      }
    } finally {
      this.firing = false;
      if (!this.stopped) this.arm();
    }
  }
}
