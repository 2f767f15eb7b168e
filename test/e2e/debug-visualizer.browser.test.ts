/**
 * The statechart visualizer in a real browser (playwright-core driving Debian's
 * chromium) against a real server process with its embedded agent: find a running
 * task, see its state highlighted, pause it (its process is stopped on the agent),
 * resume it, see it finish; then the page with 10,000 actors loads quickly.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../helpers/engine";
import {
  AUTH,
  freePort,
  REPO,
  type ServerProcess,
  startServerProcess,
  TEST_API_KEY,
} from "../helpers/server-process";
import { until } from "../helpers/until";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = join(REPO, "docs", "debug-visualizer.png");

let server: ServerProcess;
let browser: Browser;
let page: Page;
const dir = tempDir("fw-debug-");

async function post(path: string, body: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as { id: number; status: string };
}

async function status(id: number): Promise<string> {
  const response = await fetch(`${server.url}/tasks/${id}`, { headers: AUTH });
  return ((await response.json()) as { state: string }).state;
}

/** The process's state letter from /proc (R, S, T = stopped...). */
function procState(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return /^State:\s+(\S)/m.exec(status)?.[1] ?? "?";
}

beforeAll(async () => {
  server = await startServerProcess({
    dataDir: join(dir, "data"),
    port: await freePort(),
    env: { FW_LOG_LEVEL: "warn" },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("the statechart visualizer", () => {
  it("shows a running task, pauses and resumes it through its buttons, and sees it finish", async () => {
    const pidFile = join(dir, "pid");
    const gate = join(dir, "gate");
    const task = await post("/tasks", {
      name: "visualized",
      actions: [
        {
          type: "exec",
          params: {
            command: `echo $$ > ${pidFile}; while [ ! -e ${gate} ]; do sleep 0.05; done; echo done`,
          },
        },
      ],
    });
    await until(async () => ((await status(task.id)) === "running.executing" ? true : undefined));
    const pid = Number(readFileSync(pidFile, "utf8").trim());

    await page.goto(`${server.url}/debug`);
    await page.fill("#key", TEST_API_KEY);
    await page.dispatchEvent("#key", "change");
    const row = page.locator(`#actors li[data-kind="task"][data-id="${task.id}"]`);
    await row.waitFor();
    await row.click();
    const active = (state: string) => page.locator(`svg g.state.active[data-state="${state}"]`);
    await active("running.executing").waitFor();
    expect(await active("running").count()).toBe(1);
    expect(await page.locator("svg g.state").count()).toBeGreaterThan(10);

    await page.locator('#buttons button[data-command="pause"]').click();
    await active("paused.suspended").waitFor();
    expect(await status(task.id)).toBe("paused.suspended");
    await until(() => (procState(pid) === "T" ? true : undefined), 5_000);
    mkdirSync(join(REPO, "docs"), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });

    await page.locator('#buttons button[data-command="resume"]').click();
    await active("running.executing").waitFor();
    expect(procState(pid)).not.toBe("T");
    writeFileSync(gate, "");
    await active("done").waitFor();
    expect(await status(task.id)).toBe("done");
    // The history shows the way it went. It is the committed journal, which trails the
    // live state drawn above by one group commit, so the final event may arrive on the
    // page one poll after `done` is highlighted: wait for it to be there.
    await page.locator("#history").filter({ hasText: "→ done" }).waitFor();
    const history = (await page.locator("#history").textContent()) ?? "";
    for (const event of ["running", "paused", "done"]) expect(history).toContain(event);
    expect(existsSync(SCREENSHOT)).toBe(true);
  }, 60_000);

  it("stays responsive with 10,000 actors: the first page loads fast", async () => {
    // Far ahead, so they stay in the store as scheduled tasks (no agent work).
    const executeAt = Date.now() + 3_600_000;
    const total = 10_000;
    const inFlight = 32;
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < total) {
          next++;
          await post("/tasks", { actions: [{ type: "noop" }], executeAt });
        }
      }),
    );
    const started = Date.now();
    await page.goto(`${server.url}/debug`);
    await page.locator('body[data-ready="true"]').waitFor();
    await page.locator("#actors li").first().waitFor();
    const loadMs = Date.now() - started;
    const shown = await page.locator("#actors li").count();
    const counter = (await page.locator("#page").textContent()) ?? "";
    expect(shown).toBe(50);
    expect(counter).toMatch(/of 10,?00[0-9]/);
    expect(loadMs).toBeLessThan(3_000);
    // A filter narrows the list on the server.
    await page.fill("#state", "scheduled");
    await page
      .locator("#page")
      .filter({ hasText: /of 10,?000$/ })
      .waitFor();
    console.log(`visualizer with ${total} actors: first page in ${loadMs} ms`);
  }, 180_000);
});
