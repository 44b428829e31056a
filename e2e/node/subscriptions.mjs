// The graphql-ws client (the graphql-transport-ws protocol's own, as
// GraphiQL and Apollo Client's GraphQLWsLink use it) against a live server:
// a token that is refused closes the connection with 4403; a subscription
// sees the event of a mutation; and after the connection drops, the client
// connects again and resumes after the last event it had, missing nothing
// and seeing nothing twice. subscriptions_e2e_test.go starts the server and
// runs this with GRAPHQL_URL, ADMIN_TOKEN and CUSTOMER_ID; it exits
// non-zero on the first failure, saying what it saw.
//
// Node 20 has WebSocket behind --experimental-websocket; the test passes
// the flag.
import assert from 'node:assert/strict';

import { createClient } from 'graphql-ws';

const httpURL = process.env.GRAPHQL_URL;
const wsURL = httpURL.replace(/^http/, 'ws');
const token = process.env.ADMIN_TOKEN;
const customerID = process.env.CUSTOMER_ID;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// within fails when promise does not settle in ms. Its timer is cleared
// when it does, and never keeps the process alive (a wait given up on
// leaves one behind).
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function rename(name) {
  const res = await fetch(httpURL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation ($id: ID!, $n: String) { update_customer(id: $id, input: {first_name: $n}) { id } }',
      variables: { id: customerID, n: name },
    }),
  });
  const body = await res.json();
  assert.equal(body.errors, undefined, `update_customer: ${JSON.stringify(body.errors)}`);
}

// A refused token: the server closes the connection with 4403, which the
// client reports to the subscriber.
async function refusedToken() {
  const client = createClient({
    url: wsURL,
    connectionParams: { Authorization: 'Bearer not-a-token' },
    retryAttempts: 0,
  });
  const closed = await within(5000, 'the refusal', new Promise((resolve) => {
    client.subscribe({ query: 'subscription { customer_events { id } }' }, {
      next: () => resolve({ unexpected: 'an event' }),
      error: (err) => resolve(err),
      complete: () => resolve({ unexpected: 'complete' }),
    });
  }));
  assert.equal(closed.code, 4403, `a bad token: ${closed.code} ${closed.reason} ${JSON.stringify(closed.unexpected)}`);
  assert.match(closed.reason, /^Forbidden/);
  await client.dispose();
  console.log('a refused token: closed with', closed.code, closed.reason);
}

async function subscribeAndResume() {
  let socket;
  let connections = 0;
  const client = createClient({
    url: wsURL,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 5,
    retryWait: () => sleep(200),
    shouldRetry: () => true,
    on: {
      connected: (s) => {
        socket = s;
        connections++;
      },
    },
  });
  // The client sends this payload again when it connects again: after is
  // kept at the last event received, so a new connection resumes there.
  const payload = {
    query: `subscription ($id: ID, $after: ID) {
      customer_events(customer_id: $id, types: ["customer.updated"], after: $after) { id type customer_id changes }
    }`,
    variables: { id: customerID, after: null },
  };
  const names = [];
  const ids = [];
  let wake = () => {};
  client.subscribe(payload, {
    next: ({ data, errors }) => {
      assert.equal(errors, undefined, JSON.stringify(errors));
      const e = data.customer_events;
      assert.equal(e.type, 'customer.updated');
      assert.equal(e.customer_id, customerID);
      names.push(e.changes.first_name.to);
      ids.push(e.id);
      payload.variables.after = e.id;
      wake();
    },
    error: (err) => { throw new Error(`subscription failed: ${err.code ?? ''} ${err.reason ?? JSON.stringify(err)}`); },
    complete: () => {},
  });
  const waitFor = (n, what) => within(10000, what, new Promise((resolve) => {
    wake = () => { if (names.length >= n) resolve(); };
    wake();
  }));

  // The subscription starts once the server has it, which the protocol
  // does not acknowledge: change the customer until an event comes.
  for (let i = 0; names.length === 0; i++) {
    assert.ok(i < 30, 'no event after 30 changes');
    await rename(`one-${i}`);
    await Promise.race([waitFor(1, 'the first event').catch(() => {}), sleep(300)]);
  }
  await sleep(300); // a change still on its way lands now, not later
  const first = names.length;
  console.log('a mutation\'s event:', names.join(', '), ids.at(-1));

  // The connection drops (4205: the client's own restart); meanwhile two
  // changes are made. The client connects again, subscribes after the last
  // event it had, and gets both, then a live one.
  socket.close(4205, 'Client Restart');
  await rename('two');
  await rename('three');
  await within(10000, 'the reconnection', (async () => { while (connections < 2) await sleep(20); })());
  await rename('four');
  await waitFor(first + 3, 'the missed and the live events');
  await sleep(300);
  assert.deepEqual(names.slice(first), ['two', 'three', 'four'], `after the reconnection: ${names.join(', ')}`);
  assert.equal(new Set(ids).size, ids.length, `an event came twice: ${ids.join(', ')}`);
  const sorted = [...ids].sort();
  assert.deepEqual(ids, sorted, `events out of order: ${ids.join(', ')}`);
  console.log('resumed after', ids[first - 1], 'on connection', connections, 'with', names.slice(first).join(', '));
  await client.dispose();
}

await refusedToken();
await subscribeAndResume();
console.log('graphql-ws: ok');
