/// <reference lib="dom" />
/**
 * The visualizer in the browser (bundled by the engine with Bun.build; no internet):
 * a paged list of actors, and the selected actor's machine drawn as a statechart
 * (laid out by elkjs), its current state highlighted, the commands it accepts as
 * buttons (the native API, with the key typed in), and its history. It polls, so
 * it follows the actor live without a reload.
 */
import ELK from "elkjs/lib/elk.bundled.js";

interface Node {
  id: string;
  key: string;
  parent: string | null;
  type: string;
  initial: boolean;
}
interface Edge {
  source: string;
  target: string;
  label: string;
}
interface Graph {
  id: string;
  nodes: Node[];
  edges: Edge[];
}
interface Actor {
  kind: string;
  id: string;
  name: string;
  state: string;
  updatedAt: number;
  accepts?: string[];
  fields?: Record<string, unknown>;
  history?: { seq: number; at: number; event: string; state: string }[];
}

const PAGE = 50;
const POLL_MS = 500;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const keyInput = $<HTMLInputElement>("key");
keyInput.value = localStorage.getItem("fleetwork-key") ?? "";

let machines: Record<string, Graph> | null = null;
let offset = 0;
let selected: { kind: string; id: string } | null = null;
let drawn = "";
const layouts = new Map<string, Promise<SVGSVGElement>>();

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${keyInput.value}`, ...(init.headers ?? {}) },
  });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function refreshList() {
  const kind = $<HTMLSelectElement>("kind").value;
  const params = new URLSearchParams({ kind, offset: String(offset), limit: String(PAGE) });
  const state = $<HTMLInputElement>("state").value.trim();
  const q = $<HTMLInputElement>("search").value.trim();
  if (state) params.set("state", state);
  if (q) params.set("q", q);
  const { items, total } = await api<{ items: Actor[]; total: number }>(`/debug/actors?${params}`);
  const list = $<HTMLUListElement>("actors");
  list.replaceChildren(
    ...items.map((actor) => {
      const li = document.createElement("li");
      li.dataset.kind = actor.kind;
      li.dataset.id = actor.id;
      li.className = selected?.id === actor.id && selected.kind === actor.kind ? "selected" : "";
      li.innerHTML = `<span>${actor.kind} ${escapeHtml(actor.id)} · ${escapeHtml(actor.name)}</span><span class="state">${escapeHtml(actor.state)}</span>`;
      li.onclick = () => {
        selected = { kind: actor.kind, id: actor.id };
        drawn = "";
        void refreshList();
        void refreshActor();
      };
      return li;
    }),
  );
  $("page").textContent =
    `${total === 0 ? 0 : offset + 1}–${Math.min(offset + PAGE, total)} of ${total}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Lays out a machine once (ELK, compound nodes) and keeps the SVG to re-highlight. */
function layout(kind: string): Promise<SVGSVGElement> {
  let done = layouts.get(kind);
  if (done) return done;
  done = draw((machines as Record<string, Graph>)[kind] as Graph);
  layouts.set(kind, done);
  return done;
}

function mergeEdges(edges: readonly Edge[]): Map<string, string[]> {
  const merged = new Map<string, string[]>();
  for (const edge of edges) {
    if (edge.source === "" || edge.target === "") continue;
    const key = `${edge.source}\u0000${edge.target}`;
    const labels = merged.get(key) ?? [];
    if (!labels.includes(edge.label)) labels.push(edge.label);
    merged.set(key, labels);
  }
  return merged;
}

async function draw(graph: Graph): Promise<SVGSVGElement> {
  const elk = new ELK();
  type ElkNode = {
    id: string;
    width?: number;
    height?: number;
    labels?: { text: string }[];
    children?: ElkNode[];
    edges?: {
      id: string;
      sources: string[];
      targets: string[];
      labels: { text: string; width: number; height: number }[];
    }[];
    layoutOptions?: Record<string, string>;
    x?: number;
    y?: number;
  };
  const byParent = new Map<string | null, Node[]>();
  for (const node of graph.nodes) {
    const siblings = byParent.get(node.parent) ?? [];
    siblings.push(node);
    byParent.set(node.parent, siblings);
  }
  const nodeId = (path: string) => `s:${path}`;
  const build = (node: Node): ElkNode => {
    const children = (byParent.get(node.id) ?? []).map(build);
    return {
      id: nodeId(node.id),
      labels: [{ text: node.key }],
      ...(children.length > 0
        ? {
            children,
            layoutOptions: { "elk.padding": "[top=28,left=12,bottom=12,right=12]" },
          }
        : { width: Math.max(90, node.key.length * 8 + 20), height: 34 }),
    };
  };
  const root = graph.nodes.find((n) => n.parent === null) as Node;
  const top: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.layered.spacing.nodeNodeBetweenLayers": "60",
      "elk.spacing.edgeLabel": "4",
    },
    children: (byParent.get(root.id) ?? []).map(build),
    // One arrow per source and target, labelled with all its events: a machine's
    // guarded alternatives would otherwise draw a bundle of parallel lines.
    edges: [...mergeEdges(graph.edges)].map(([key, labels], i) => {
      const [source, target] = key.split("\u0000") as [string, string];
      const text = labels.join(" | ");
      return {
        id: `e${i}`,
        sources: [nodeId(source)],
        targets: [nodeId(target)],
        labels: [{ text, width: text.length * 6, height: 12 }],
      };
    }),
  };
  const laid = (await elk.layout(top as never)) as unknown as ElkNode & {
    width: number;
    height: number;
    edges: {
      sections?: { startPoint: P; endPoint: P; bendPoints?: P[] }[];
      labels?: { text: string; x: number; y: number }[];
      container?: string;
    }[];
  };
  type P = { x: number; y: number };
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  // Scaled to the pane's width, so the whole machine is in view.
  svg.setAttribute("viewBox", `0 0 ${laid.width + 20} ${laid.height + 20}`);
  svg.setAttribute("width", "100%");
  svg.style.maxHeight = "75vh";
  svg.innerHTML =
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#999"/></marker></defs>';
  const offsets = new Map<string, P>();
  const place = (node: ElkNode, parent: SVGGElement, at: P) => {
    const x = at.x + (node.x ?? 0);
    const y = at.y + (node.y ?? 0);
    offsets.set(node.id, { x, y });
    const g = document.createElementNS(ns, "g");
    const path = node.id.slice(2);
    g.setAttribute("class", `state${node.children?.length ? " compound" : ""}`);
    g.dataset.state = path;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", String(x));
    rect.setAttribute("y", String(y));
    rect.setAttribute("width", String(node.width ?? 0));
    rect.setAttribute("height", String(node.height ?? 0));
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", String(x + 8));
    text.setAttribute("y", String(y + (node.children?.length ? 16 : 21)));
    text.textContent = node.labels?.[0]?.text ?? "";
    g.append(rect, text);
    parent.append(g);
    for (const child of node.children ?? []) place(child, g, { x, y });
  };
  const states = document.createElementNS(ns, "g");
  for (const child of laid.children ?? []) place(child, states, { x: 10, y: 10 });
  svg.append(states);
  const edges = document.createElementNS(ns, "g");
  for (const edge of laid.edges ?? []) {
    const base = offsets.get(edge.container ?? "root") ?? { x: 10, y: 10 };
    const shift = edge.container && edge.container !== "root" ? base : { x: 10, y: 10 };
    for (const section of edge.sections ?? []) {
      const points = [section.startPoint, ...(section.bendPoints ?? []), section.endPoint];
      const path = document.createElementNS(ns, "path");
      path.setAttribute(
        "d",
        points.map((p, i) => `${i === 0 ? "M" : "L"} ${p.x + shift.x} ${p.y + shift.y}`).join(" "),
      );
      const g = document.createElementNS(ns, "g");
      g.setAttribute("class", "edge");
      g.append(path);
      for (const label of edge.labels ?? []) {
        const text = document.createElementNS(ns, "text");
        text.setAttribute("x", String(label.x + shift.x));
        text.setAttribute("y", String(label.y + shift.y + 10));
        text.textContent = label.text;
        g.append(text);
      }
      edges.append(g);
    }
  }
  svg.append(edges);
  return svg;
}

async function refreshActor() {
  if (!selected) return;
  const actor = await api<Actor>(
    `/debug/actors/${selected.kind}/${encodeURIComponent(selected.id)}`,
  );
  $("title").textContent = `${actor.kind} ${actor.id} · ${actor.name} · ${actor.state}`;
  $("title").dataset.state = actor.state;
  $("fields").textContent = Object.entries(actor.fields ?? {})
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`)
    .join(" · ");
  const accepts = actor.kind === "task" ? (actor.accepts ?? []) : [];
  const signature = `${actor.kind}:${actor.id}:${accepts.join(",")}`;
  if (signature !== $("buttons").dataset.signature) {
    $("buttons").dataset.signature = signature;
    $("buttons").replaceChildren(
      ...accepts.map((command) => {
        const button = document.createElement("button");
        const verb = command.toLowerCase();
        button.textContent = verb[0]?.toUpperCase() + verb.slice(1);
        button.dataset.command = verb;
        button.onclick = async () => {
          await api(`/tasks/${actor.id}/${verb}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: verb === "conclude" ? JSON.stringify({ delayMs: 0 }) : "{}",
          }).catch((error: unknown) => alert(String(error)));
          await refreshActor();
        };
        return button;
      }),
    );
  }
  const svg = await layout(actor.kind);
  if (drawn !== actor.kind) {
    $("chart").replaceChildren(svg);
    drawn = actor.kind;
  }
  // The active state and its ancestors.
  const active = new Set<string>();
  const parts = actor.state.split(".");
  for (let i = 1; i <= parts.length; i++) active.add(parts.slice(0, i).join("."));
  for (const g of svg.querySelectorAll<SVGGElement>("g.state")) {
    g.classList.toggle("active", active.has(g.dataset.state ?? ""));
  }
  $("history").replaceChildren(
    ...(actor.history ?? []).map((entry) => {
      const li = document.createElement("li");
      li.textContent = `${new Date(entry.at).toISOString()} ${entry.event} → ${entry.state}`;
      return li;
    }),
  );
}

async function start() {
  keyInput.onchange = () => {
    localStorage.setItem("fleetwork-key", keyInput.value);
    void tick();
  };
  for (const id of ["kind", "state", "search"]) {
    $(id).oninput = () => {
      offset = 0;
      void refreshList();
    };
  }
  $("prev").onclick = () => {
    offset = Math.max(0, offset - PAGE);
    void refreshList();
  };
  $("next").onclick = () => {
    offset += PAGE;
    void refreshList();
  };
  await tick();
  setInterval(() => void tick(), POLL_MS);
}

async function tick() {
  try {
    machines ??= await api<Record<string, Graph>>("/debug/machines");
    await Promise.all([refreshList(), refreshActor()]);
    document.body.dataset.ready = "true";
  } catch (error) {
    $("title").textContent = String(error);
  }
}

void start();
