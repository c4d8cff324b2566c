//! A TCP proxy between the app and PostgreSQL that the test can cut: the database goes
//! away (connections reset, new ones refused) without touching the machine's own server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

struct Inner {
    addr: SocketAddr,
    target: SocketAddr,
    /// The accept loop and every open connection, while the proxy is up.
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Inner {
    fn tasks(&self) -> MutexGuard<'_, Vec<AbortHandle>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in self.tasks().drain(..) {
            t.abort();
        }
    }
}

pub struct Proxy {
    inner: Arc<Inner>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy: bind");
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner { addr, target, tasks: Mutex::new(Vec::new()) });
        let accept = accept_loop(listener, Arc::downgrade(&inner));
        inner.tasks().push(accept);
        Proxy { inner }
    }

    pub fn port(&self) -> u16 {
        self.inner.addr.port()
    }

    /// The database goes away: every connection through the proxy is cut and new ones
    /// are refused.
    pub fn cut(&self) {
        for t in self.inner.tasks().drain(..) {
            t.abort();
        }
    }

    /// The database is back, on the same address.
    pub async fn restore(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.inner.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("proxy: cannot bind {} again: {e}", self.inner.addr),
            }
        };
        let accept = accept_loop(listener, Arc::downgrade(&self.inner));
        self.inner.tasks().push(accept);
    }
}

fn accept_loop(listener: TcpListener, inner: std::sync::Weak<Inner>) -> AbortHandle {
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { continue };
            let Some(strong) = inner.upgrade() else { return };
            let target = strong.target;
            let task = tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            })
            .abort_handle();
            strong.tasks().push(task);
        }
    })
    .abort_handle()
}
