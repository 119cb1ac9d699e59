{% set ts = lang == "typescript" -%}
// `{{ id }}`: {{ description }}
//
// Host interfaces are modules named 'lord:plugin/<interface>@{{ api }}'{% if ts %};
// their typings are generated from the WIT into .lord/types by `lord pdk build`{% endif %}.
// An exported interface is one object whose methods are its functions in
// camelCase. `result<T, string>` means: return T, or throw a string.
{% if kind == "command" -%}
import { log } from 'lord:plugin/log@{{ api }}';
{% if ts %}import type * as Guest from 'lord:plugin/guest@{{ api }}';
import type { Invocation } from 'lord:plugin/types@{{ api }}';
{% endif %}
/** The first value of argument `name`, if the user gave one. */
function arg(invocation{% if ts %}: Invocation{% endif %}, name{% if ts %}: string{% endif %}){% if ts %}: string | undefined{% endif %} {
  return invocation.args.find((a) => a.name === name)?.values[0];
}

/** The greeting, kept apart from the glue so it is easy to test. */
export function greeting(name{% if ts %}: string{% endif %}){% if ts %}: string{% endif %} {
  return `Hello, ${name}!\n`;
}

export const guest{% if ts %}: typeof Guest{% endif %} = {
  onLoad() {},
  onEnable() {},
  onDisable() {},
  onUnload() {},
  onError() {},
  runCommand(invocation) {
    if (invocation.command !== '{{ id }}') {
      throw `{{ id }} has no command \`${invocation.command}\``;
    }
    const name = arg(invocation, 'name') ?? 'world';
    log('info', `greeting ${name}`);
    return greeting(name);
  },
  callMicro(_input, ctx) {
    throw `{{ id }} has no micro-plugin \`${ctx.id}\``;
  },
  validateMicro() {},
  handleEvent() {},
  handleMessage() {
    throw '{{ id }} accepts no messages';
  },
};
{% elif kind == "event-handler" -%}
import * as data from 'lord:plugin/data@{{ api }}';
{% if ts %}import type * as Guest from 'lord:plugin/guest@{{ api }}';
import type { Event, Invocation } from 'lord:plugin/types@{{ api }}';
{% endif %}
const SEEN = 'seen';
// Version 0: the key is absent. QuickJS passes a 64-bit integer as a
// number and SpiderMonkey as a BigInt (converting a number it is given),
// so a version is handed back as the engine gave it, and 0 is a number.
const ABSENT = 0{% if ts %} as unknown as bigint{% endif %};

/** How many events this plugin has counted, kept in its own data. */
function seen(){% if ts %}: number{% endif %} {
  const bytes = data.get(SEEN);
  // QuickJS answers a missing value with null, SpiderMonkey with undefined.
  if (bytes == null) return 0;
  return Number(String.fromCharCode(...bytes)) || 0;
}

export const guest{% if ts %}: typeof Guest{% endif %} = {
  onLoad() {},
  onEnable() {},
  onDisable() {},
  onUnload() {},
  onError() {},
  runCommand(invocation{% if ts %}: Invocation{% endif %}) {
    if (invocation.command !== '{{ id }}') {
      throw `{{ id }} has no command \`${invocation.command}\``;
    }
    return `{{ id }} has seen ${seen()} finished commands\n`;
  },
  callMicro(_input, ctx) {
    throw `{{ id }} has no micro-plugin \`${ctx.id}\``;
  },
  validateMicro() {},
  // Called after each command for every event its events-subscribe(...)
  // grants cover.
  // Commands run at once deliver their events at once, each in its own
  // process: adding one by compare-and-swap, and again on a conflict,
  // loses no count.
  handleEvent(event{% if ts %}: Event{% endif %}) {
    if (event.topic === 'lord.command.finished') {
      let current = data.getVersioned(SEEN);
      for (;;) {
        const n = current == null ? 0 : Number(String.fromCharCode(...current.value)) || 0;
        const next = Uint8Array.from(String(n + 1), (c) => c.charCodeAt(0));
        const expected = current == null ? ABSENT : current.version;
        const outcome = data.compareAndSwap(SEEN, expected, next);
        if (outcome.tag === 'swapped') break;
        current = outcome.val;
      }
    }
  },
  handleMessage() {
    throw '{{ id }} accepts no messages';
  },
};
{% else -%}
{% if ts %}import type * as Micro from 'lord:plugin/micro@{{ api }}';
import type { MicroContext } from 'lord:plugin/types@{{ api }}';
{% endif %}{% if kind == "validator" %}
/** Why `text` is refused, if it is. */
function problem(text{% if ts %}: string{% endif %}){% if ts %}: string | undefined{% endif %} {
  if (text.trim() === '') return 'the text is empty';
  const length = [...text].length;
  if (length > 280) return `the text has ${length} characters; at most 280`;
  return undefined;
}
{% endif %}
/** The handler's work on plain text, kept apart from the glue. */
export function apply(text{% if ts %}: string{% endif %}){% if ts %}: unknown{% endif %} {
{%- if kind == "transformer" %}
  return text.toUpperCase();
{%- elif kind == "validator" %}
  const refused = problem(text);
  if (refused !== undefined) throw refused;
  return text;
{%- elif kind == "formatter" %}
  return text.split(/\s+/).filter((w) => w !== '').join(' ');
{%- elif kind == "hook" %}
  return text.replace(/[0-9]/g, '#');
{%- elif kind == "command-enhancer" %}
  if (text.split(/\s+/).some((w) => w.startsWith('--color'))) return text;
  return `${text.trimEnd()} --color=auto`;
{%- else %}
  return { words: text.split(/\s+/).filter((w) => w !== '').length };
{%- endif %}
}

/** The input as text, or a thrown reason. */
function text(input{% if ts %}: string{% endif %}){% if ts %}: string{% endif %} {
  const value{% if ts %}: unknown{% endif %} = JSON.parse(input);
  if (typeof value !== 'string') throw 'expected a JSON string';
  return value;
}

// Strict isolation links no host interface, so this code imports none.
export const micro{% if ts %}: typeof Micro{% endif %} = {
  execute(input{% if ts %}: string{% endif %}, ctx{% if ts %}: MicroContext{% endif %}) {
    if (ctx.id !== '{{ id }}') throw `{{ id }} has no micro-plugin \`${ctx.id}\``;
    return JSON.stringify(apply(text(input)));
  },
  validate(input{% if ts %}: string{% endif %}{% if kind != "validator" %}, _ctx{% if ts %}: MicroContext{% endif %}{% endif %}) {
{%- if kind == "validator" %}
    const refused = problem(text(input));
    if (refused !== undefined) throw refused;
{%- else %}
    text(input);
{%- endif %}
  },
};
{% endif %}
