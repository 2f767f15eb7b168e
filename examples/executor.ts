/**
 * A reference executor for Fleetwork's executor RPC API (Aidbox AWF style), with fetch
 * and nothing else so that it ports to any language:
 *   FW_API_KEY=<key> FW_DEFINITION=example bun examples/executor.ts
 * The demo work: params {n}; it sums 1..n one slow step at a time, succeeding with {sum}.
 */
export {}; // a module, for the top-level await below

const BASE = process.env.FW_URL ?? "http://localhost:8080";
const KEY = process.env.FW_API_KEY ?? "";
const DEFINITION = process.env.FW_DEFINITION ?? "example";
const LIMIT = Number(process.env.FW_EXECUTOR_LIMIT ?? 0); // 0: run forever
const STEP_MS = 100;

type Task = { id: string; execId: string; params: { n?: number }; inProgressTimeout: number };

class RpcError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One call: `POST /rpc {method, params}` answers `{result}` or `{error: {message}}`. */
async function rpc<T>(method: string, params: object): Promise<T> {
  const response = await fetch(`${BASE}/rpc`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ method, params }),
  });
  const body = (await response.json()) as { result: T; error?: { message: string } };
  if (!response.ok) throw new RpcError(response.status, body.error?.message ?? "");
  return body.result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run({ id, execId, params, inProgressTimeout }: Task): Promise<void> {
  // A claimed task that is not started within requestedToStartTimeout goes back to ready.
  await rpc("awf.task/start", { id, execId });
  // Silence longer than inProgressTimeout fails the task, so beat well inside it: a
  // third leaves room for a slow call or two.
  const every = inProgressTimeout / 3;
  const n = params.n ?? 10;
  let sum = 0;
  let lastBeat = 0;
  // From 0, so that the first beat goes out before any work, even when n is 0.
  for (let i = 0; i <= n; i++) {
    if (Date.now() - lastBeat >= every) {
      // A 422 here (the task was cancelled) stops the work: there is no one to report to.
      await rpc("awf.task/notify", { id, execId, notification: "heartbeat", message: `${i}/${n}` });
      lastBeat = Date.now();
    }
    sum += i;
    await sleep(STEP_MS);
  }
  await rpc("awf.task/success", { id, execId, result: { sum } });
  console.log(`${id}: succeeded with sum ${sum}`);
}

// One task at a time (maxBatchSize 1): a claimed task waits for nobody. Any error but a
// 422 ends the process; the engine hands its task to another executor after a timeout.
for (let done = 0; LIMIT === 0 || done < LIMIT; ) {
  // Asks again every 30 s when idle, well before a proxy on the way drops the connection.
  const poll = { taskDefinitions: [DEFINITION], timeout: 30_000 };
  const { resources } = await rpc<{ resources: Task[] }>("awf.task/long-poll", poll);
  for (const task of resources) {
    try {
      await run(task);
    } catch (error) {
      if (!(error instanceof RpcError && error.status === 422)) throw error;
      console.log(`${task.id}: refused (${error.message}), moving on`);
    }
    done++;
  }
}
