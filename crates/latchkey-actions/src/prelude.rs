//! Loading `prelude.js` into each fresh context.
//!
//! Parsing the prelude took about 1.2 ms of a 1.5 ms execution, so it is compiled to QuickJS
//! bytecode once per process and handed to every runtime through rquickjs's `Bundle` loader
//! (which reads bytecode on our behalf: this crate forbids `unsafe`, and the bytes come from
//! the same QuickJS build in the same process). If compiling ever fails, each context parses
//! the source instead.
//!
//! The module is reachable as `latchkey:prelude` from the action's own dynamic `import()`; that
//! only yields the factory, which does nothing without the Rust host functions.

use rquickjs::loader::Bundle;
use rquickjs::{Context, Ctx, Function, Module, Object, Runtime, WriteOptions};
use std::sync::OnceLock;

const SOURCE: &str = include_str!("prelude.js");
const NAME: &str = "latchkey:prelude";

type BundleData = &'static [(&'static str, &'static [u8])];

static BYTECODE: OnceLock<Option<BundleData>> = OnceLock::new();

fn bytecode() -> Option<BundleData> {
    *BYTECODE.get_or_init(|| match compile() {
        Ok(data) => Some(data),
        Err(err) => {
            tracing::warn!(%err, "actions: the prelude could not be precompiled; parsing it per execution");
            None
        }
    })
}

fn compile() -> rquickjs::Result<BundleData> {
    let runtime = Runtime::new()?;
    let context = Context::full(&runtime)?;
    let bytes = context
        .with(|ctx| Module::declare(ctx.clone(), NAME, SOURCE)?.write(WriteOptions::default()))?;
    // Leaked once per process: the loader needs `'static` data.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let data: BundleData = Box::leak(Box::new([(NAME, bytes)]));
    Ok(data)
}

/// Gives a fresh runtime the loader for the precompiled prelude (before any `Context::with`).
pub fn prepare(runtime: &Runtime) {
    if let Some(data) = bytecode() {
        // `Bundle` is a type alias of a tuple struct, hence the field syntax.
        runtime.set_loader(Bundle { 0: data }, Bundle { 0: data });
    }
}

/// Evaluates the prelude in `ctx` and returns its default export, the factory that takes the
/// host functions.
pub fn load<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Function<'js>> {
    let namespace: Object<'js> = if bytecode().is_some() {
        Module::import(ctx, NAME)?.finish()?
    } else {
        let (module, promise) = Module::declare(ctx.clone(), NAME, SOURCE)?.eval()?;
        promise.finish::<()>()?;
        module.namespace()?
    };
    namespace.get("default")
}
