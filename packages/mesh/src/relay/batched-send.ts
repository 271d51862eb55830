/**
 * Sends a WebSocket message with the socket corked until the end of the current tick, so the
 * frames of one burst (a recvmmsg batch of WireGuard datagrams, or the messages ws parsed from one
 * TCP read) leave in one write instead of one syscall and one TCP segment each (the socket has
 * Nagle off for latency).
 */
import type { Socket } from "node:net";
import type { WebSocket } from "ws";

const corked = new Set<Socket>();

export function sendBatched(ws: WebSocket, data: Uint8Array): void {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (socket && !corked.has(socket)) {
    socket.cork();
    corked.add(socket);
    process.nextTick(() => {
      corked.delete(socket);
      socket.uncork();
    });
  }
  ws.send(data);
}
