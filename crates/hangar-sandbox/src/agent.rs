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

/// How long the reaper sleeps when the sandbox has no children at all (with children it
/// blocks in `waitpid` and reaps each as it exits).
const REAP_IDLE_INTERVAL: Duration = Duration::from_millis(200);

type Running = Arc<Mutex<HashMap<u64, Arc<AtomicBool>>>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn serve(stream: UnixStream, env: Vec<(String, String)>) -> i32 {
    if std::thread::Builder::new().spawn(reap_forever).is_err() {
        return 1;
    }
    let writer = match stream.try_clone() {
        Ok(writer) => Arc::new(Mutex::new(writer)),
        Err(_) => return 1,
    };
    let toolbox = Arc::new(Toolbox::new("/workspace", env));
    // Most sessions start with `bash`: start the shell while the server sends the first call.
    let warm = toolbox.clone();
    let _ = std::thread::Builder::new().spawn(move || warm.warm_up());
    let ready = InitMessage::Ready {
        version: PROTOCOL_VERSION,
    };
    if protocol::write_frame(&mut *lock(&writer), &ready).is_err() {
        return 1;
    }
    let running: Running = Arc::default();
    let mut reader = stream;
    loop {
        match protocol::read_frame::<HostMessage>(&mut reader) {
            Ok(Some(HostMessage::Call { id, tool, input })) => {
                let cancel = Arc::new(AtomicBool::new(false));
                lock(&running).insert(id, cancel.clone());
                let (reply, registered) = (writer.clone(), running.clone());
                let (toolbox, writer, running) = (toolbox.clone(), writer.clone(), running.clone());
                let spawned = std::thread::Builder::new().spawn(move || {
                    let result = toolbox.run(&tool, &input, &cancel);
                    lock(&running).remove(&id);
                    send_result(&writer, id, result.text, result.is_error);
                });
                if let Err(error) = spawned {
                    // A fork bomb can exhaust the pids limit; answer instead of dying.
                    let text = format!(
                        "The sandbox could not start the call ({error}): its process limit is \
                         probably exhausted. Kill runaway processes, or restart the shell with \
                         `bash` and `restart: true`."
                    );
                    lock(&registered).remove(&id);
                    send_result(&reply, id, text, true);
                }
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

fn send_result(writer: &Mutex<UnixStream>, id: u64, text: String, is_error: bool) {
    let message = InitMessage::Result { id, text, is_error };
    let _ = protocol::write_frame(&mut *lock(writer), &message);
}

/// PID 1 inherits every orphan of the sandbox; without this they stay zombies forever.
fn reap_forever() {
    loop {
        if !sys::reap_any_blocking() {
            std::thread::sleep(REAP_IDLE_INTERVAL);
        }
    }
}
