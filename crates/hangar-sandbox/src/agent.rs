//! The init agent's serving loop (PID 1 of the sandbox, after setup): reads tool calls from
//! the socketpair, runs each on its own thread through `hangar_tools::Toolbox`, writes the
//! results back, honours cancellation by request id, and reaps every orphan in the sandbox.
//! Owns no tool logic; exits when the server closes the socket.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hangar_tools::Toolbox;

use crate::protocol::{self, HostMessage, InitMessage, PROTOCOL_VERSION};
use crate::sys;

/// How long the reaper sleeps when the sandbox has no children at all.
const REAP_IDLE_INTERVAL: Duration = Duration::from_millis(200);

type Running = Arc<Mutex<HashMap<u64, Arc<AtomicBool>>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn serve(stream: UnixStream, env: Vec<(String, String)>) -> i32 {
    std::thread::spawn(reap_forever);
    let writer = match stream.try_clone() {
        Ok(writer) => Arc::new(Mutex::new(writer)),
        Err(_) => return 1,
    };
    let ready = InitMessage::Ready {
        version: PROTOCOL_VERSION,
    };
    if protocol::write_frame(&mut *lock(&writer), &ready).is_err() {
        return 1;
    }
    let toolbox = Arc::new(Toolbox::new("/workspace", env));
    let running: Running = Arc::default();
    let mut reader = stream;
    loop {
        match protocol::read_frame::<HostMessage>(&mut reader) {
            Ok(Some(HostMessage::Call { id, tool, input })) => {
                let cancel = Arc::new(AtomicBool::new(false));
                lock(&running).insert(id, cancel.clone());
                let (toolbox, writer, running) = (toolbox.clone(), writer.clone(), running.clone());
                std::thread::spawn(move || {
                    let result = toolbox.run(&tool, &input, &cancel);
                    lock(&running).remove(&id);
                    let message = InitMessage::Result {
                        id,
                        text: result.text,
                        is_error: result.is_error,
                    };
                    let _ = protocol::write_frame(&mut *lock(&writer), &message);
                });
            }
            Ok(Some(HostMessage::Cancel { id })) => {
                if let Some(cancel) = lock(&running).get(&id) {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok(Some(_)) => {}
            // The server closed the socket (stop) or it broke: the sandbox ends.
            Ok(None) | Err(_) => return 0,
        }
    }
}

/// PID 1 inherits every orphan of the sandbox; without this they stay zombies forever.
fn reap_forever() {
    loop {
        if sys::reap_any().is_none() {
            std::thread::sleep(REAP_IDLE_INTERVAL);
        }
    }
}
