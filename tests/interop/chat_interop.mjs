// Interop: @stomp/stompjs 7 (over ws 8) against the embedded chat server.
// Usage: node chat_interop.mjs http://127.0.0.1:PORT
// Logs in over REST, connects two clients in two rooms, sends one chat message and checks that
// the sender gets its own broadcast with seq 1 and the other room gets nothing.
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const base = process.argv[2];
if (!base) {
  console.error('interop FAIL: usage: node chat_interop.mjs http://127.0.0.1:PORT');
  process.exit(2);
}
const wsUrl = base.replace(/^http/, 'ws') + '/ws-stomp';
const clients = [];

function fail(msg) {
  console.error('interop FAIL: ' + msg);
  for (const c of clients) c.forceDisconnect();
  process.exit(1);
}
const deadline = setTimeout(() => fail('no result within 20 s'), 20000);

async function login(member) {
  const email = `user${String(member).padStart(5, '0')}@test.com`;
  const res = await fetch(base + '/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'password123!' }),
  });
  const json = await res.json();
  if (res.status !== 200 || json.result !== 'SUCCESS') {
    fail(`login of ${email}: HTTP ${res.status} ${JSON.stringify(json.error)}`);
  }
  return json.data;
}

function connect(token) {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new WebSocket(wsUrl, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      connectHeaders: { Authorization: 'Bearer ' + token },
      heartbeatIncoming: 10000,
      heartbeatOutgoing: 10000,
      reconnectDelay: 0,
      onConnect: () => resolve(client),
      onStompError: (f) => reject(new Error('ERROR frame: ' + f.headers.message)),
      onWebSocketError: () => reject(new Error('WebSocket error')),
    });
    clients.push(client);
    client.activate();
  });
}

try {
  const a = await login(1);    // room 1
  const b = await login(150);  // room 2
  const ca = await connect(a.tokenInfo.accessToken);
  const cb = await connect(b.tokenInfo.accessToken);
  const key = `[W1-N${Date.now()}]`;
  let other = 0;
  cb.subscribe('/topic/chat.room.2', () => { other += 1; });
  const own = new Promise((resolve) => {
    ca.subscribe('/topic/chat/room/1', (m) => resolve(m));
  });
  // Subscriptions are processed in order on the session, so this SEND follows them.
  ca.publish({
    destination: '/publish/1',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      roomId: 1, senderId: a.memberInfo.memberId, type: 'TEXT', content: key + ' hello',
      fileUrl: null, fileName: null, fileSize: null, createdAt: new Date().toISOString(),
    }),
  });
  const m = await own;
  const body = JSON.parse(m.body);
  if (body.seq !== 1) fail(`seq ${body.seq}, expected 1`);
  if (!String(body.content).startsWith(key)) fail(`content ${body.content}`);
  if (body.senderId !== 1 || body.roomId !== 1) fail(`ids ${m.body}`);
  if (!m.headers.subscription || !m.headers['message-id']) fail('missing MESSAGE headers');
  await new Promise((r) => setTimeout(r, 500));
  if (other !== 0) fail(`room 2 received ${other} message(s) of room 1`);
  clearTimeout(deadline);
  await ca.deactivate();
  await cb.deactivate();
  console.log('interop OK: stompjs round trip seq=1, other room silent');
  process.exit(0);
} catch (e) {
  fail(e.message);
}
