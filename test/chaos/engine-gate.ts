/**
 * Whether the engine under test is up, as the harness knows it: the killer closes the
 * gate just before each kill and opens it once the restarted engine answers. The load
 * waits at a closed gate instead of hammering a dead port, so every submission that
 * fails was in flight when the engine died (or rode a connection it left behind).
 */
export class EngineGate {
  private current: string | undefined;
  private waiting: ((url: string) => void)[] = [];

  /** The engine answers at `url` now. */
  open(url: string): void {
    this.current = url;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve(url);
  }

  close(): void {
    this.current = undefined;
  }

  get isOpen(): boolean {
    return this.current !== undefined;
  }

  /** The engine's URL, as soon as it is up. */
  whenOpen(): Promise<string> {
    if (this.current !== undefined) return Promise.resolve(this.current);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}
