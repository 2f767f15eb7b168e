/**
 * What an agent must remember across its own restarts: every attempt it accepted
 * (so a repeated run is never run again) and every result not yet acknowledged (so
 * none is lost). The embedded agent, which lives and dies with the engine, keeps this
 * in memory; a host agent keeps it in SQLite in its state directory.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { AgentReport, AttemptState } from "../src/protocol";

export interface StoredAttempt {
  readonly execId: string;
  readonly taskId: number;
  readonly state: AttemptState;
  /** The process group of a running attempt, to stop it after an agent restart. */
  readonly pid: number | null;
}

export interface AgentStateStore {
  getAttempt(execId: string): StoredAttempt | undefined;
  putAttempt(attempt: StoredAttempt): void;
  /** Attempts that were running when the agent last stopped. */
  runningAttempts(): StoredAttempt[];
  /** Forgets finished attempts beyond the newest `keep`. */
  trimAttempts(keep: number): void;
  putReport(report: AgentReport): void;
  deleteReport(report: AgentReport): void;
  reports(): AgentReport[];
  close(): void;
}

function reportKey(report: AgentReport): string {
  return `${report.execId}:${report.kind}`;
}

export class MemoryAgentState implements AgentStateStore {
  private readonly attempts = new Map<string, StoredAttempt>();
  private readonly pending = new Map<string, AgentReport>();

  getAttempt(execId: string) {
    return this.attempts.get(execId);
  }
  putAttempt(attempt: StoredAttempt) {
    this.attempts.delete(attempt.execId);
    this.attempts.set(attempt.execId, attempt);
  }
  runningAttempts() {
    return [...this.attempts.values()].filter((a) => a.state === "running" || a.state === "paused");
  }
  trimAttempts(keep: number) {
    // Insertion order is age order: drop the oldest finished ones.
    let excess = this.attempts.size - keep;
    for (const [execId, attempt] of this.attempts) {
      if (excess <= 0) return;
      if (attempt.state !== "running" && attempt.state !== "paused") {
        this.attempts.delete(execId);
        excess--;
      }
    }
  }
  putReport(report: AgentReport) {
    this.pending.set(reportKey(report), report);
  }
  deleteReport(report: AgentReport) {
    this.pending.delete(reportKey(report));
  }
  reports() {
    return [...this.pending.values()];
  }
  close() {}
}

/**
 * SQLite in WAL mode with synchronous=NORMAL: a write survives a kill -9 of the agent
 * (the WAL is in the OS's hands), which is the failure the ledger must survive; an
 * fsync per accepted attempt would cap an agent at a few thousand attempts a second.
 */
export class SqliteAgentState implements AgentStateStore {
  private readonly db: Database;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.db = new Database(join(stateDir, "agent.db"), { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec(`CREATE TABLE IF NOT EXISTS attempts (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      exec_id TEXT NOT NULL UNIQUE,
      task_id INTEGER NOT NULL,
      state TEXT NOT NULL,
      pid INTEGER)`);
    this.db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      key TEXT PRIMARY KEY,
      report TEXT NOT NULL)`);
  }

  getAttempt(execId: string): StoredAttempt | undefined {
    const row = this.db
      .query<{ task_id: number; state: string; pid: number | null }, [string]>(
        "SELECT task_id, state, pid FROM attempts WHERE exec_id = ?1",
      )
      .get(execId);
    return row
      ? { execId, taskId: row.task_id, state: row.state as AttemptState, pid: row.pid }
      : undefined;
  }

  putAttempt(attempt: StoredAttempt): void {
    this.db
      .query(
        `INSERT INTO attempts (exec_id, task_id, state, pid) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (exec_id) DO UPDATE SET state = excluded.state, pid = excluded.pid`,
      )
      .run(attempt.execId, attempt.taskId, attempt.state, attempt.pid);
  }

  runningAttempts(): StoredAttempt[] {
    return this.db
      .query<{ exec_id: string; task_id: number; state: string; pid: number | null }, []>(
        "SELECT exec_id, task_id, state, pid FROM attempts WHERE state IN ('running', 'paused')",
      )
      .all()
      .map((row) => ({
        execId: row.exec_id,
        taskId: row.task_id,
        state: row.state as AttemptState,
        pid: row.pid,
      }));
  }

  trimAttempts(keep: number): void {
    this.db
      .query(
        `DELETE FROM attempts WHERE state NOT IN ('running', 'paused')
           AND seq <= (SELECT max(seq) FROM attempts) - ?1`,
      )
      .run(keep);
  }

  putReport(report: AgentReport): void {
    this.db
      .query("INSERT OR REPLACE INTO outbox (key, report) VALUES (?1, ?2)")
      .run(reportKey(report), JSON.stringify(report));
  }

  deleteReport(report: AgentReport): void {
    this.db.query("DELETE FROM outbox WHERE key = ?1").run(reportKey(report));
  }

  reports(): AgentReport[] {
    return this.db
      .query<{ report: string }, []>("SELECT report FROM outbox")
      .all()
      .map((row) => JSON.parse(row.report) as AgentReport);
  }

  close(): void {
    this.db.close();
  }
}
