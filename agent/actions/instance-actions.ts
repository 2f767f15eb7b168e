/**
 * The five application-instance actions of an instance deployment task: download a
 * build, extract it, stop the instance, deploy the build to it, start it. Each is a thin
 * handler over the build cache and the instance registry; what they do to disk and to
 * processes lives there. `done` never rejects: every error becomes a failed outcome
 * whose message starts with the action type.
 */
import { type Static, Type as T, type TSchema } from "@sinclair/typebox";
import { InvalidInputError } from "../../src/errors";
import type { ActionOutcome } from "../../src/protocol";
import { BUILD_ID_PATTERN, type BuildCache, checkBuildId } from "../build-cache";
import { type InstanceExit, type Instances, StopMethod } from "../instances";
import type { ActionContext, ActionHandler, RunningAction } from "./action";

export interface InstanceActionsEnv {
  readonly instances: Instances;
  readonly builds: BuildCache;
  /** Largest archive `download-build` accepts. @default 2 GiB */
  readonly maxArchiveBytes?: number;
  /** Most bytes `extract-build` writes for one build. @default 8 GiB */
  readonly maxExtractedBytes?: number;
  /** Most entries `extract-build` accepts in one archive. @default 100000 */
  readonly maxEntries?: number;
  /** How long a started instance must stay up for `start-instance` to succeed. @default 200 */
  readonly startCheckMs?: number;
}

/** Spec 2.17: a stop waits this long for a graceful exit unless told otherwise. */
export const DEFAULT_STOP_TIMEOUT_SEC = 1800;
export const DEFAULT_MAX_ARCHIVE_BYTES = 2 * 1024 ** 3;
export const DEFAULT_MAX_EXTRACTED_BYTES = 8 * 1024 ** 3;
export const DEFAULT_MAX_ENTRIES = 100_000;
export const DEFAULT_START_CHECK_MS = 200;
/** A week; also keeps the stop timer inside what setTimeout can count. */
const MAX_STOP_TIMEOUT_SEC = 7 * 24 * 3600;

const BuildId = T.String({
  pattern: BUILD_ID_PATTERN,
  description: 'the application build\'s id; letters, digits, ".", "_" and "-", not "." or ".."',
});
const InstanceId = T.String({ minLength: 1, description: "a configured application instance" });

export const DownloadBuildParams = T.Object(
  {
    buildId: BuildId,
    url: T.String({
      pattern: "^(https?|file):",
      description: "where the build archive is: an http:, https: or file: URL",
    }),
    sha256: T.Optional(
      T.String({
        pattern: "^[0-9a-fA-F]{64}$",
        description: "expected SHA-256 of the archive, hex; a mismatch fails and caches nothing",
      }),
    ),
  },
  { additionalProperties: false, description: "download a build archive into the build cache" },
);

export const ExtractBuildParams = T.Object(
  {
    buildId: BuildId,
    format: T.Optional(
      T.Union([T.Literal("tar"), T.Literal("tar.gz"), T.Literal("zip")], {
        description: "archive format; default: recognised from the archive's first bytes",
      }),
    ),
  },
  { additionalProperties: false, description: "extract a downloaded build archive" },
);

export const StopInstanceParams = T.Object(
  {
    instanceId: InstanceId,
    methodId: T.Optional(
      T.Union([T.Literal("graceful"), T.Literal("hard")], {
        description:
          "graceful: SIGTERM, then SIGKILL after `timeout`; hard: SIGKILL at once (default)",
      }),
    ),
    timeout: T.Optional(
      T.Number({
        minimum: 0,
        maximum: MAX_STOP_TIMEOUT_SEC,
        description: `seconds a graceful stop waits before SIGKILL; default ${DEFAULT_STOP_TIMEOUT_SEC}`,
      }),
    ),
  },
  { additionalProperties: false, description: "stop an application instance" },
);

export const DeployBuildParams = T.Object(
  { instanceId: InstanceId, buildId: BuildId },
  {
    additionalProperties: false,
    description: "point the instance's `current` at an extracted build",
  },
);

export const StartInstanceParams = T.Object(
  { instanceId: InstanceId },
  { additionalProperties: false, description: "start an application instance from its config" },
);

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One attempt: `work` gets an abort signal that `cancel` fires. Whatever `work` throws
 * (or a cancel that makes it throw) becomes a failed outcome.
 */
function attempt(
  type: string,
  work: (signal: AbortSignal) => Promise<ActionOutcome>,
): RunningAction {
  const controller = new AbortController();
  const done = work(controller.signal).catch(
    (error: unknown): ActionOutcome => ({
      ok: false,
      message: controller.signal.aborted ? `${type}: cancelled` : `${type}: ${messageOf(error)}`,
    }),
  );
  return { done, cancel: () => controller.abort() };
}

function handler<S extends TSchema>(
  type: string,
  params: S,
  work: (params: Static<S>, signal: AbortSignal) => Promise<ActionOutcome>,
): ActionHandler<S> {
  return {
    type,
    params,
    start: ({ params: given }: ActionContext<Static<S>>) =>
      attempt(type, (signal) => work(given, signal)),
  };
}

/** Whichever comes first: the exit, `ms` passing with the process alive, or a cancel. */
function exitWithin(
  exited: Promise<InstanceExit>,
  ms: number,
  signal: AbortSignal,
): Promise<InstanceExit | "alive" | "cancelled"> {
  return new Promise((settle) => {
    const finish = (result: InstanceExit | "alive" | "cancelled") => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      settle(result);
    };
    const onAbort = () => finish("cancelled");
    const timer = setTimeout(() => finish("alive"), ms);
    signal.addEventListener("abort", onAbort, { once: true });
    void exited.then(finish);
  });
}

function describeExit({ code, signal }: InstanceExit): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

export function instanceActions(env: InstanceActionsEnv): ActionHandler[] {
  const { instances, builds } = env;
  const maxArchiveBytes = env.maxArchiveBytes ?? DEFAULT_MAX_ARCHIVE_BYTES;
  const maxExtractedBytes = env.maxExtractedBytes ?? DEFAULT_MAX_EXTRACTED_BYTES;
  const maxEntries = env.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const startCheckMs = env.startCheckMs ?? DEFAULT_START_CHECK_MS;

  const downloadBuild = handler("download-build", DownloadBuildParams, async (params, signal) => {
    const result = await builds.download(params.buildId, {
      url: params.url,
      sha256: params.sha256,
      maxBytes: maxArchiveBytes,
      signal,
    });
    return {
      ok: true,
      message: `download-build: ${params.buildId}: ${result.bytes} bytes, sha256 ${result.sha256}`,
    };
  });

  const extractBuild = handler("extract-build", ExtractBuildParams, async (params, signal) => {
    const result = await builds.extract(params.buildId, {
      format: params.format,
      maxBytes: maxExtractedBytes,
      maxEntries,
      signal,
    });
    return {
      ok: true,
      message: `extract-build: ${params.buildId}: ${result.entries} entries, ${result.bytes} bytes (${result.format})`,
    };
  });

  const stopInstance = handler("stop-instance", StopInstanceParams, async (params, signal) => {
    const id = params.instanceId;
    const method = params.methodId ?? StopMethod.Hard;
    const timeout = params.timeout ?? DEFAULT_STOP_TIMEOUT_SEC;
    const result = await instances.stop(id, method, timeout, signal);
    if (!result.wasRunning) return { ok: true, message: `stop-instance: ${id} is not running` };
    if (result.cancelled) {
      return {
        ok: false,
        message: `stop-instance: cancelled while waiting for ${id} (pid ${result.pid}) to exit; it is left as it is`,
      };
    }
    const how =
      method === StopMethod.Hard
        ? "with SIGKILL"
        : result.escalated
          ? `with SIGKILL after ${timeout} s`
          : "with SIGTERM";
    return { ok: true, message: `stop-instance: stopped ${id} (pid ${result.pid}) ${how}` };
  });

  const deployBuild = handler("deploy-build", DeployBuildParams, async (params, signal) => {
    const id = params.instanceId;
    instances.get(id);
    const buildId = checkBuildId(params.buildId);
    if (!(await builds.isExtracted(buildId))) {
      throw new InvalidInputError(`build ${buildId} is not extracted`, "buildId");
    }
    const previous = await instances.deployedBuild(id);
    // The switch itself is one rename and cannot be interrupted; a cancel before it wins.
    signal.throwIfAborted();
    await instances.deploy(id, builds.extractedPath(buildId));
    return {
      ok: true,
      message: `deploy-build: ${id} now has build ${buildId}${previous ? ` (was ${previous})` : ""}`,
    };
  });

  const startInstance = handler("start-instance", StartInstanceParams, async (params, signal) => {
    const id = params.instanceId;
    const started = await instances.start(id);
    if (started.alreadyRunning) {
      return { ok: true, message: `start-instance: ${id} is already running (pid ${started.pid})` };
    }
    const early = await exitWithin(started.exited, startCheckMs, signal);
    if (early === "alive") {
      return { ok: true, message: `start-instance: started ${id} (pid ${started.pid})` };
    }
    if (early === "cancelled") {
      return {
        ok: false,
        message: `start-instance: cancelled; ${id} was started (pid ${started.pid}) and is left as it is`,
      };
    }
    const tail = await instances.logTail(id, started.logOffset);
    return {
      ok: false,
      exitCode: early.code ?? undefined,
      stdout: tail,
      message: `start-instance: ${id} exited within ${startCheckMs} ms (${describeExit(early)})${tail ? `; log tail:\n${tail}` : ""}`,
    };
  });

  return [downloadBuild, extractBuild, stopInstance, deployBuild, startInstance];
}
