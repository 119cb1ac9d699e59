//! Host-side bindings generated from `wit/`: the `plugin` world here, the
//! `micro-plugin` world in `micro_bindings`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../../wit",
    // Log calls return a trap when the output budget is spent, so a flooding
    // guest stops at once instead of running on until its deadline.
    imports: {
        // A request waits for another plugin's reply.
        "lord:plugin/messaging.request": async | trappable,
        // A program runs while the call waits, under its deadline.
        "lord:plugin/exec.run": async | trappable,
        // A sample reads `/proc` off the executor, under the deadline.
        "lord:plugin/metrics.system": async | trappable,
        "lord:plugin/metrics.processes": async | trappable,
        "lord:plugin/metrics.containers": async | trappable,
        // A model answers over the network, under the deadline.
        "lord:plugin/ai.complete": async | trappable,
        "lord:plugin/ai.stream": async | trappable,
        "lord:plugin/ai.[method]reply-stream.next": async | trappable,
        "lord:plugin/ai.[method]reply-stream.answer": async | trappable,
        // A database answers over the network (or a SQLite file's lock
        // waits), under the deadline.
        "lord:plugin/sql.query": async | trappable,
        "lord:plugin/sql.execute": async | trappable,
        "lord:plugin/sql.batch": async | trappable,
        "lord:plugin/kv.get": async | trappable,
        "lord:plugin/kv.set": async | trappable,
        "lord:plugin/kv.delete": async | trappable,
        "lord:plugin/kv.exists": async | trappable,
        "lord:plugin/kv.incr": async | trappable,
        "lord:plugin/kv.expire": async | trappable,
        "lord:plugin/kv.ttl": async | trappable,
        "lord:plugin/kv.scan": async | trappable,
        "lord:plugin/document.find": async | trappable,
        "lord:plugin/document.insert": async | trappable,
        "lord:plugin/document.update": async | trappable,
        "lord:plugin/document.delete": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    // A reply being read lives in the store's resource table as the
    // interface's own type.
    with: {
        "lord:plugin/ai.reply-stream": crate::interfaces::ReplyStream,
    },
    // The command records are lord-sandbox's public `Invocation` and
    // `CommandArg`, compared in tests and by callers. Not `Eq`: the
    // metrics records hold floats.
    additional_derives: [PartialEq],
});
