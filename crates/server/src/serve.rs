//! `pine-serve`'s life: load the model, start the engine, listen, and on SIGINT/SIGTERM stop
//! accepting, drain what is in flight and return.

use std::sync::Arc;

use crate::args::ServeArgs;
use crate::engine::{Engine, EngineConfig, Handle};
use crate::http::cors::Origins;
use crate::http::{router, AppState};
use crate::load;
use pine_model::Slots;

/// Runs the server until a signal; `Ok` after a clean drain.
pub fn run(args: ServeArgs) -> Result<(), String> {
    args.check()?;
    let loaded = load::load(&args)?;
    let model_name = args.alias.clone().unwrap_or_else(|| {
        loaded
            .path
            .file_name()
            .map_or("model".into(), |n| n.to_string_lossy().into_owned())
    });
    let tokenizer = Arc::new(loaded.tokenizer);
    let (n_slots, n_ctx_slot) = (args.parallel as usize, args.n_ctx_slot());
    let slots =
        Slots::new(loaded.model, n_slots, n_ctx_slot, args.cache_type.into()).map_err(|e| {
            format!(
                "{n_slots} slot(s) of {n_ctx_slot} tokens (-c {}): {e}",
                args.ctx_size
            )
        })?;
    let config = EngineConfig {
        max_queue: args.max_queue,
        prefill_chunk: args.prefill_chunk as usize,
    };
    let engine = Engine::start(slots, Arc::clone(&tokenizer), config);
    let handle = engine.handle();
    let state = AppState::new(handle.clone(), tokenizer, loaded.template, model_name);
    let origins = Origins {
        extra: args.cors_origin.clone(),
    };
    let app = router(state, args.api_key.as_deref(), args.body_limit, origins);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host, args.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!(
            "pine-serve: {n_slots} slot(s) of {n_ctx_slot} tokens; listening on http://{addr}"
        );
        println!("pine-serve: listening on http://{addr}");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown(handle.clone()))
            .await
            .map_err(|e| format!("server error: {e}"))?;
        let h = handle.clone();
        tokio::task::spawn_blocking(move || h.drain())
            .await
            .map_err(|e| e.to_string())?;
        eprintln!("pine-serve: drained; exiting");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate => {},
    }
}

/// Resolves on the first SIGINT or SIGTERM, after telling the engine to refuse new requests and
/// to finish the ones in flight; a second signal exits at once (status 130).
async fn shutdown(handle: Handle) {
    signal().await;
    eprintln!(
        "pine-serve: shutting down: no new requests; finishing those in flight (signal again to \
         exit now)"
    );
    std::thread::spawn(move || handle.drain());
    tokio::spawn(async {
        signal().await;
        eprintln!("pine-serve: second signal: exiting without draining");
        std::process::exit(130);
    });
}
