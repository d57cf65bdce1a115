/**
 * `retopy machines`: every machine in every format, checked against the machine objects
 * walked independently of src/statecharts (xstate/graph's `toDirectedGraph`, the state
 * nodes' `always`, `machine.toJSON()`); docs/statecharts.md's diagrams and docs/*.svg checked for
 * staleness; the handler machine checked against the real handler logic; and the CLI as a
 * real `node dist/src/cli.js` child process (run `npm run build` first; `npm test` does).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import ts from "typescript";
import { type AnyStateMachine, type AnyStateNode, createActor, createMachine, fromPromise, setup } from "xstate";
import { toDirectedGraph } from "xstate/graph";
import type { HandlerEvent } from "../machines/handler-event.js";
import { handlerMachine } from "../machines/handler.machine.js";
import { DIAGRAM_DOC, ROOT, endMarker, generateDocs, mermaidBlock, startMarker } from "../scripts/diagrams.js";
import { createHandlerActor } from "../src/handler-actor.js";
import {
  type ChartFormat,
  CHART_FORMATS,
  dotToSvg,
  MACHINES,
  MACHINE_NAMES,
  type MachineName,
  renderMachine,
  toDot,
  toJson,
  toMermaid,
  toStately,
  walkMachine,
} from "../src/statecharts/index.js";

const CLI = join(ROOT, "dist", "src", "cli.js");

// ---------------------------------------------------------------------------------------
// The oracle: a second, independent reading of each machine.

interface Edge {
  readonly source: AnyStateNode;
  readonly target: AnyStateNode;
  /** What the drawing must say first: the event, `after <delay>`, or nothing for `always`. */
  readonly trigger: string;
  readonly guard: string | undefined;
  readonly actions: readonly string[];
}

interface GraphNodeLike {
  readonly stateNode: AnyStateNode;
  readonly children: readonly GraphNodeLike[];
  readonly edges: readonly { source: AnyStateNode; target: AnyStateNode; label: { text: string }; transition: { guard?: unknown; actions: readonly unknown[] } }[];
}

function nameOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { type?: unknown }).type === "string") return (value as { type: string }).type;
  return undefined;
}

/** Every state node below the root, and every transition: `toDirectedGraph`'s edges plus `always`, which it leaves out. */
function oracle(machine: AnyStateMachine): { states: AnyStateNode[]; edges: Edge[] } {
  const states: AnyStateNode[] = [];
  const edges: Edge[] = [];
  const visit = (node: GraphNodeLike) => {
    if (node.stateNode !== machine.root) states.push(node.stateNode);
    for (const edge of node.edges) {
      const text = edge.label.text;
      const after = /^xstate\.after\.([^.]+)\./.exec(text);
      edges.push({
        source: edge.source,
        target: edge.target,
        trigger: after ? `after ${after[1]}` : text,
        guard: nameOf(edge.transition.guard),
        actions: edge.transition.actions.map(nameOf).filter((name): name is string => name !== undefined && !name.startsWith("xstate.")),
      });
    }
    for (const t of node.stateNode.always ?? []) {
      for (const target of t.target ?? []) {
        edges.push({ source: node.stateNode, target, trigger: "", guard: nameOf(t.guard), actions: t.actions.map(nameOf).filter((n): n is string => !!n) });
      }
    }
    node.children.forEach(visit);
  };
  visit(toDirectedGraph(machine) as unknown as GraphNodeLike);
  return { states, edges };
}

const isCompound = (node: AnyStateNode) => Object.keys(node.states).length > 0;

// ---------------------------------------------------------------------------------------
// Mermaid, read back.

interface MermaidDoc {
  readonly edges: { from: string; to: string; label: string }[];
  readonly notes: Map<string, string[]>;
  readonly declared: Set<string>;
  readonly lines: string[];
}

function unescapeMermaid(text: string): string {
  return text.replace(/#58;/g, ":").replace(/#59;/g, ";").replace(/#quot;/g, '"').replace(/#35;/g, "#");
}

function parseMermaid(text: string): MermaidDoc {
  const lines = text.split("\n");
  assert.equal(lines[0], "stateDiagram-v2");
  const edges: MermaidDoc["edges"] = [];
  const notes = new Map<string, string[]>();
  const declared = new Set<string>();
  let note: string[] | null = null;
  for (const line of lines.slice(1)) {
    const trimmed = line.trim();
    if (note) {
      if (trimmed === "end note") note = null;
      else note.push(unescapeMermaid(trimmed));
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^note (?:left|right) of (\w+)$/.exec(trimmed))) {
      note = [];
      notes.set(m[1]!, note);
    } else if ((m = /^(\S+) --> (\S+)(?: : (.*))?$/.exec(trimmed))) {
      edges.push({ from: m[1]!, to: m[2]!, label: unescapeMermaid(m[3] ?? "") });
      for (const name of [m[1]!, m[2]!]) if (name !== "[*]") declared.add(name);
    } else if ((m = /^state (\w+) \{$/.exec(trimmed)) || (m = /^(\w+) : /.exec(trimmed))) {
      declared.add(m[1]!);
    }
  }
  return { edges, notes, declared, lines };
}

function labelMatches(label: string, edge: Edge): boolean {
  if (!label.startsWith(edge.trigger)) return false;
  if (edge.guard !== undefined && !label.includes(`[${edge.guard}]`)) return false;
  return edge.actions.every((action) => label.includes(action));
}

describe("retopy machines --format mermaid", () => {
  for (const name of MACHINE_NAMES) {
    test(`${name}: deterministic, and names every state and every transition of the machine`, async () => {
      const { machine } = MACHINES[name];
      const text = await renderMachine(name, "mermaid");
      assert.equal(await renderMachine(name, "mermaid"), text, "same machine, same text");
      const doc = parseMermaid(text);
      const { states, edges } = oracle(machine);
      const keys = states.map((s) => s.key);
      assert.equal(new Set(keys).size, keys.length, "these machines' state keys are unique, so the diagram uses them as names");
      assert.deepEqual([...doc.declared].sort(), [...keys].sort(), "exactly the machine's states");

      const topLevel = Object.values(machine.root.states);
      let expectedEdges = 0;
      for (const edge of edges) {
        const where = `${edge.source.id} -> ${edge.target.id} (${edge.trigger})`;
        if (edge.source === machine.root && edge.target === machine.root) {
          // Machine-wide and targetless: a line of the machine's note.
          const machineNote = [...doc.notes.values()].find((lines) => lines[0] === `machine ${machine.id}`);
          assert.ok(machineNote?.some((line) => labelMatches(line, edge)), `machine note shows ${where}`);
        } else if (edge.source === machine.root) {
          // Machine-wide with a target: drawn from every top-level state that is not final.
          for (const from of topLevel.filter((s) => s.type !== "final")) {
            expectedEdges++;
            assert.ok(doc.edges.some((e) => e.from === from.key && e.to === edge.target.key && labelMatches(e.label, edge)), `${from.key} --> ${edge.target.key} for ${where}`);
          }
        } else if (edge.source === edge.target && isCompound(edge.source)) {
          assert.ok(doc.notes.get(edge.source.key)?.some((line) => labelMatches(line, edge)), `note of ${edge.source.key} shows ${where}`);
        } else {
          expectedEdges++;
          assert.ok(doc.edges.some((e) => e.from === edge.source.key && e.to === edge.target.key && labelMatches(e.label, edge)), `edge for ${where}`);
        }
      }
      const drawn = doc.edges.filter((e) => e.from !== "[*]" && e.to !== "[*]");
      assert.equal(drawn.length, expectedEdges, "no transition drawn that the machine does not have");

      // Initial states, final states and nesting.
      // A parallel state has regions, not an initial state: each region has its own.
      const compounds = [machine.root, ...states.filter((s) => isCompound(s) && s.type !== "parallel")];
      for (const node of compounds) {
        const initial = node.initial.target[0];
        assert.ok(initial, `${node.id} has an initial state`);
        assert.ok(doc.edges.some((e) => e.from === "[*]" && e.to === initial.key), `[*] --> ${initial.key}`);
      }
      for (const node of states.filter((s) => s.type === "final")) {
        assert.ok(doc.edges.some((e) => e.from === node.key && e.to === "[*]"), `${node.key} --> [*]`);
      }
      for (const node of states.filter(isCompound)) {
        const open = doc.lines.findIndex((line) => line.trim() === `state ${node.key} {`);
        const close = doc.lines.findIndex((line, i) => i > open && line === `${doc.lines[open]!.replace(/\S.*$/, "")}}`);
        assert.ok(open > 0 && close > open, `block for ${node.key}`);
        const inside = doc.lines.slice(open + 1, close).join("\n");
        for (const child of Object.values(node.states)) assert.match(inside, new RegExp(`\\b${child.key}\\b`), `${child.key} inside ${node.key}`);
      }
    });
  }

  test("connection: the labels read EVENT [guard] / actions, with delays by name", async () => {
    const text = await renderMachine("connection", "mermaid");
    assert.match(text, /^ {2}header --> open : HEADER \[headerFitsLimit\] \/ assignHeader$/m);
    assert.match(text, /^ {2}header --> lingering : after headerTimeout \[headerTimeoutEnabled\] \/ keepCloseReason\(reason=header_timeout\)$/m);
    assert.match(text, /^ {2}open --> closed : CLOSE \/ keepCloseReasonOfEvent$/m);
    assert.doesNotMatch(text, /closed --> closed/, "the machine-wide CLOSE is not drawn from the final state");
    assert.match(text, /^ {6}authenticated --> authenticated : LOGIN \/ assignUser$/m, "a targetless transition is a self-loop");
    assert.match(text, /^ {4}--$/m, "open's two regions, auth and flow, are separated");
    assert.match(text, /^ {6}serving --> afterReply : QUIT \/ keepCloseReasonOfEvent$/m, "a transition into a child of a sibling state");
    assert.match(text, /^ {2}closing --> lingering : REPLIES_SENT$/m, "a transition out of a nested region is drawn at the top");
    assert.match(text, /^ {2}closed : entry \/ reportClosed$/m);
  });
});

// ---------------------------------------------------------------------------------------
// JSON and the Stately source: both must rebuild the same machine.

/** `machine.toJSON()` as plain data: states, transitions, named actions and guards, invokes. */
function definitionOf(machine: AnyStateMachine): unknown {
  return JSON.parse(JSON.stringify(machine.toJSON()));
}

function stateIds(machine: AnyStateMachine): string[] {
  return oracle(machine).states.map((s) => s.id);
}

describe("retopy machines --format json", () => {
  for (const name of MACHINE_NAMES) {
    test(`${name}: deterministic, parses, and createMachine of it has the same states and transitions`, async () => {
      const { machine } = MACHINES[name];
      const text = await renderMachine(name, "json");
      assert.equal(await renderMachine(name, "json"), text);
      const config = JSON.parse(text) as { id: string; states: Record<string, unknown> };
      assert.equal(config.id, machine.id);
      const names: string[] = [];
      const collect = (states: Record<string, { states?: Record<string, unknown> }>, prefix: string) => {
        for (const [key, state] of Object.entries(states)) {
          names.push(`${prefix}.${key}`);
          if (state.states) collect(state.states as Record<string, { states?: Record<string, unknown> }>, `${prefix}.${key}`);
        }
      };
      collect(config.states as Record<string, { states?: Record<string, unknown> }>, machine.id);
      assert.deepEqual(names, stateIds(machine), "state names round-trip");
      const rebuilt = createMachine(config as Parameters<typeof createMachine>[0]);
      assert.deepEqual(definitionOf(rebuilt), definitionOf(machine), "same definition (toJSON) as the real machine");
      assert.doesNotMatch(text, /"(?:function|=>)/, "no functions");
    });
  }
});

describe("retopy machines --format stately", () => {
  for (const name of MACHINE_NAMES) {
    test(`${name}: deterministic TypeScript that evaluates, with createMachine, to the same machine`, async () => {
      const { machine } = MACHINES[name];
      const source = await renderMachine(name, "stately");
      assert.equal(await renderMachine(name, "stately"), source);
      assert.match(source, /^import \{ createMachine \} from "xstate";$/m);
      const parsed = ts.transpileModule(source, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext } });
      assert.deepEqual(parsed.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")) ?? [], [], "TypeScript parses it");
      const body = source.replace(/^import .*$/m, "").replace("export const machine = ", "return ");
      assert.notEqual(body, source);
      const rebuilt = new Function("createMachine", body)(createMachine) as AnyStateMachine;
      assert.deepEqual(stateIds(rebuilt), stateIds(machine));
      assert.deepEqual(rebuilt.events, machine.events);
      assert.deepEqual(definitionOf(rebuilt), definitionOf(machine));
    });
  }
});

// ---------------------------------------------------------------------------------------
// SVG.

/** Tags balance and nest: enough of XML to know the file is one whole `<svg>` element. */
function assertWellFormed(svg: string): void {
  const body = svg.replace(/<!--[\s\S]*?-->/g, "");
  const stack: string[] = [];
  for (const [, close, tag, , selfClosing] of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
    if (selfClosing) continue;
    if (close) assert.equal(stack.pop(), tag, `</${tag}> closes what is open`);
    else stack.push(tag!);
  }
  assert.deepEqual(stack, [], "every element closed");
}

describe("retopy machines --format svg", () => {
  for (const name of MACHINE_NAMES) {
    test(`${name}: deterministic, well-formed, and draws every state`, async () => {
      const { machine } = MACHINES[name];
      const svg = await renderMachine(name, "svg");
      assert.equal(await renderMachine(name, "svg"), svg);
      assert.ok(svg.startsWith("<svg"), svg.slice(0, 80));
      assert.ok(svg.endsWith("</svg>\n"));
      assertWellFormed(svg);
      for (const state of oracle(machine).states) assert.match(svg, new RegExp(`>${state.key}</text>`), `draws ${state.key}`);
    });
  }
});

// ---------------------------------------------------------------------------------------
// Statechart features retopy's machines do not use yet, so the walk is ready for them.

describe("a machine with parallel regions, history, invoke handlers and a numeric delay", () => {
  const rich = setup({ actors: { load: fromPromise(async () => 1) }, actions: { log: () => undefined } }).createMachine({
    id: "rich",
    initial: "idle",
    states: {
      idle: { on: { GO: "loading" }, after: { 500: "end" } },
      loading: { invoke: { id: "fetcher", src: "load", onDone: { target: "work", actions: "log" }, onError: "end" } },
      work: {
        type: "parallel",
        onDone: "end",
        states: {
          left: { initial: "a", states: { a: { on: { NEXT: "b" } }, b: { type: "final" }, back: { type: "history", history: "deep" } } },
          right: { initial: "c", states: { c: { on: { NEXT: { target: "state", reenter: true } } }, state: { type: "final", entry: { type: "log", params: { msg: "a: b; #1" } } } } },
        },
      },
      end: { type: "final" },
    },
  });

  test("every format draws it, and JSON and the Stately source rebuild it", async () => {
    const chart = walkMachine(rich);
    const mermaid = toMermaid(chart);
    assert.match(mermaid, /^ {4}--$/m, "regions are separated by --");
    assert.match(mermaid, /idle --> s_end : after 500 ms/, "a reserved word is renamed, a numeric delay is in ms");
    assert.match(mermaid, /loading --> work : onDone fetcher \/ log/);
    assert.match(mermaid, /log\(msg=#quot;a#58; b#59; #35;1#quot;\)/, "Mermaid's syntax characters are entity codes");
    const svg = await dotToSvg(toDot(chart));
    assertWellFormed(svg);
    for (const state of oracle(rich).states) assert.match(svg, new RegExp(`>${state.key}(?:</text>|&#45;)`), state.key);
    assert.deepEqual(definitionOf(createMachine(JSON.parse(toJson(chart)))), definitionOf(rich));
    const body = toStately(chart).replace(/^import .*$/m, "").replace("export const machine = ", "return ");
    assert.deepEqual(definitionOf(new Function("createMachine", body)(createMachine) as AnyStateMachine), definitionOf(rich));
  });
});

// ---------------------------------------------------------------------------------------
// The handler machine against the real handler logic.

describe("machines/handler.machine.ts", () => {
  /** A connection's command queue that records the batches it is handed. */
  function recordingQueue() {
    const ran: HandlerEvent["items"][] = [];
    return { ran, queue: { enqueue: (items: HandlerEvent["items"]) => void ran.push(items) } };
  }

  /** The server's own handler logic (src/handler-actor.ts) and the statechart as it ships (its own runBatch). */
  function start(kind: "real" | "model") {
    const { ran, queue } = recordingQueue();
    const logic = kind === "real" ? createHandlerActor(pino({ level: "silent" })) : handlerMachine;
    const actor = createActor(logic as typeof handlerMachine).start();
    const batch: HandlerEvent = { type: "COMMANDS", connectionId: "c1", queue, items: [["PING"]] };
    return { actor, ran, batch };
  }
  const realHandler = () => start("real");
  const modelHandler = () => start("model");

  test("declares COMMANDS and XState's stop, and nothing else", () => {
    assert.deepEqual([...handlerMachine.events].sort(), ["COMMANDS", "xstate.stop"]);
  });

  test("the real handler logic does what the machine declares for each of its events", () => {
    for (const type of handlerMachine.events) {
      const real = realHandler();
      const model = modelHandler();
      const example = (batch: HandlerEvent): { type: string } | undefined =>
        (({ COMMANDS: batch, "xstate.stop": { type: "xstate.stop" } }) as Record<string, { type: string }>)[type];
      assert.ok(example(real.batch), `the test has an example of ${type}`);
      real.actor.send(example(real.batch) as HandlerEvent);
      model.actor.send(example(model.batch) as HandlerEvent);
      assert.deepEqual(real.ran, model.ran, `${type}: the same batches reach the queue`);
      assert.equal(real.actor.getSnapshot().status, model.actor.getSnapshot().status, `${type}: the same status`);
    }
    const real = realHandler();
    const batch = real.batch;
    real.actor.send(batch);
    real.actor.send(batch);
    assert.deepEqual(real.ran, [batch.items, batch.items], "each COMMANDS hands its batch, the same object, to the queue it names");
    assert.equal(real.ran[0], batch.items);
    assert.equal(real.actor.getSnapshot().status, "active");
    real.actor.stop();
    assert.equal(real.actor.getSnapshot().status, "stopped", "stopping the actor stops the logic");
  });

  test("an event the machine does not declare runs no batch and does not stop the real handler", () => {
    const real = realHandler();
    real.actor.send({ type: "LOGIN", user: "ada" } as unknown as HandlerEvent);
    assert.deepEqual(real.ran, []);
    assert.equal(real.actor.getSnapshot().status, "active", "a stray event must not stop the actor every connection relies on");
    real.actor.send(real.batch);
    assert.deepEqual(real.ran, [real.batch.items]);
  });

  test("a queue that throws costs that batch, never the real handler actor", () => {
    const real = realHandler();
    const failing: HandlerEvent = {
      ...real.batch,
      queue: {
        enqueue: () => {
          throw new Error("a bug in the glue");
        },
      },
    };
    real.actor.send(failing);
    assert.equal(real.actor.getSnapshot().status, "active");
    real.actor.send(real.batch);
    assert.deepEqual(real.ran, [real.batch.items]);
  });
});

// ---------------------------------------------------------------------------------------
// The generated docs.

describe("docs/statecharts.md and docs/*.svg", () => {
  test("the guide's diagrams and docs/*.svg are what `npm run diagrams` writes now", async () => {
    const guide = readFileSync(DIAGRAM_DOC, "utf8");
    for (const name of MACHINE_NAMES) {
      const start = guide.indexOf(startMarker(name));
      const end = guide.indexOf(endMarker(name));
      assert.ok(start >= 0 && end > start, `docs/statecharts.md has the ${name} markers`);
      const block = guide.slice(start + startMarker(name).length, end).trim();
      assert.equal(block, mermaidBlock(await renderMachine(name, "mermaid")).trim(), `the ${name} diagram is current (npm run diagrams)`);
    }
    const generated = await generateDocs(guide);
    assert.equal(generated.guide, guide, "regenerating changes nothing in docs/statecharts.md (npm run diagrams)");
    for (const [path, content] of generated.files) {
      assert.equal(readFileSync(join(ROOT, path), "utf8"), content, `${path} is current (npm run diagrams)`);
    }
  });
});

// ---------------------------------------------------------------------------------------
// The CLI, as a real child process.

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Any network use in the child throws, so an `svg` that reached for the network would fail. */
const NO_NETWORK = `data:text/javascript,${encodeURIComponent(`
  import net from "node:net";
  import dns from "node:dns";
  const refuse = () => { throw new Error("network used"); };
  net.Socket.prototype.connect = refuse;
  dns.lookup = refuse;
  dns.promises.lookup = refuse;
  globalThis.fetch = refuse;
`)}`;

async function run(args: readonly string[], nodeFlags: readonly string[] = [], timeoutMs = 10_000): Promise<Run> {
  const child = spawn(process.execPath, [...nodeFlags, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const [code] = (await once(child, "close")) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

describe("retopy machines (CLI)", () => {
  test("prints each machine in each format, the same as the library renders it", async () => {
    const cases: [MachineName, ChartFormat][] = [
      ...MACHINE_NAMES.map((name): [MachineName, ChartFormat] => [name, "mermaid"]),
      ...CHART_FORMATS.filter((f) => f !== "mermaid").map((format): [MachineName, ChartFormat] => ["connection", format]),
    ];
    const runs = await Promise.all(cases.map(([name, format]) => run([CLI, "machines", name, "--format", format])));
    for (const [i, [name, format]] of cases.entries()) {
      const { code, stdout, stderr } = runs[i]!;
      assert.equal(code, 0, `${name} ${format}: ${stderr}`);
      assert.equal(stderr, "");
      assert.equal(stdout, await renderMachine(name, format), `${name} --format ${format}`);
    }
  });

  test("defaults to the connection machine as Mermaid, the guide's diagram", async () => {
    const { code, stdout } = await run([CLI, "machines"]);
    assert.equal(code, 0);
    const guide = readFileSync(DIAGRAM_DOC, "utf8");
    const block = guide.slice(guide.indexOf(startMarker("connection")), guide.indexOf(endMarker("connection")));
    assert.ok(block.includes(mermaidBlock(stdout)), "docs/statecharts.md shows exactly what the command prints");
  });

  test("svg is drawn with the network unusable", async () => {
    const control = await run(["-e", 'require("node:net").connect(1, "127.0.0.1")'], ["--import", NO_NETWORK]);
    assert.notEqual(control.code, 0, "the guard does refuse network use");
    assert.match(control.stderr, /network used/);
    const { code, stdout, stderr } = await run([CLI, "machines", "supervisor", "--format", "svg"], ["--import", NO_NETWORK]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, await renderMachine("supervisor", "svg"));
  });

  test("an unknown machine, format, flag or an extra argument is a usage error (exit 2)", async () => {
    const cases = [
      { args: ["machines", "nope"], says: /the machine must be one of connection, supervisor, handler, cluster, not 'nope'/ },
      { args: ["machines", "connection", "--format", "png"], says: /--format must be one of mermaid, json, stately, svg, dot, not 'png'/ },
      { args: ["machines", "--shape", "x"], says: /Unknown option '--shape'/ },
      { args: ["machines", "connection", "handler"], says: /machines takes one machine, got 2/ },
      { args: ["machines", "--format"], says: /--format/ },
    ];
    const runs = await Promise.all(cases.map(({ args }) => run([CLI, ...args])));
    for (const [i, { args, says }] of cases.entries()) {
      const { code, stdout, stderr } = runs[i]!;
      assert.equal(code, 2, `${args.join(" ")}: exit 2 (stderr: ${stderr})`);
      assert.equal(stdout, "", `${args.join(" ")}: nothing on stdout`);
      assert.match(stderr, says);
    }
  });

  test("--help shows the machines and formats", async () => {
    const { code, stdout } = await run([CLI, "machines", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /retopy machines \[<machine>\]/);
    assert.match(stdout, /mermaid \(default\), json, stately/);
  });
});

// Guard against a registry entry that names the wrong machine.
test("each registered machine is the one its name says", () => {
  for (const name of MACHINE_NAMES) assert.equal(MACHINES[name].machine.id, name);
  assert.ok(isDeepStrictEqual([...MACHINE_NAMES], Object.keys(MACHINES)));
});
