//! The server's listening socket.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Listens on `address` with a `listen` backlog of `backlog` connections
/// (the kernel caps it at `net.core.somaxconn`).
///
/// The backlog is what a reconnect storm meets first: connections the
/// kernel has completed but the server has not accepted yet wait there, and
/// past it the kernel drops the client's SYN, which the client's kernel
/// resends only a second later. tokio's `TcpListener::bind` uses 1024.
pub fn bind(address: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted server can listen again at
    // once while the old connections are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(backlog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listens_on_an_ephemeral_port_and_accepts() {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)), 8).unwrap();
        let address = listener.local_addr().unwrap();
        assert_ne!(address.port(), 0);
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        assert_eq!(client.unwrap().local_addr().unwrap(), accepted.unwrap().1);
    }

    #[tokio::test]
    async fn an_address_in_use_is_an_error() {
        let first = bind(SocketAddr::from(([127, 0, 0, 1], 0)), 8).unwrap();
        let taken = first.local_addr().unwrap();
        assert!(bind(taken, 8).is_err());
    }
}
