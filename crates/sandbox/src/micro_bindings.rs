//! Host-side bindings of the `micro-plugin` world.

wasmtime::component::bindgen!({
    world: "micro-plugin",
    path: "../../wit",
    imports: { default: trappable },
    exports: { default: async },
});
