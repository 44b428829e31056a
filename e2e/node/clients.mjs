// The GraphQL clients storefronts and admin tools use, run against a live
// server: Apollo Client 4 (a nested query, a mutation, error codes,
// automatic persisted queries), graphql-request, and graphql-js, which
// rebuilds the schema from introspection and must find it valid and equal
// to schema.graphqls. clients_e2e_test.go starts the server and runs this
// with GRAPHQL_URL, ADMIN_TOKEN, SCHEMA_FILE and SDL_OUT; it exits non-zero
// on the first failure, saying what it saw.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLClient, ClientError } from 'graphql-request';
import {
  buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema, validateSchema,
} from 'graphql';

const url = process.env.GRAPHQL_URL;
const token = process.env.ADMIN_TOKEN;
const auth = { Authorization: `Bearer ${token}` };

// Every request the clients make, as sent.
const sent = [];
const recordingFetch = async (input, init) => {
  sent.push(JSON.parse(init.body));
  return fetch(input, init);
};

async function apolloClient() {
  const http = new HttpLink({ uri: url, headers: auth, fetch: recordingFetch });
  const client = new ApolloClient({ link: http, cache: new InMemoryCache() });

  // A nested query: every relation of a list page, non-null where the
  // schema says so.
  const { data } = await client.query({
    query: gql`query NestedList {
      customers(limit: 3) {
        count
        items { id email addresses { id city } groups { id name } orders(limit: 2) { count items { id total items { title } } } }
      }
    }`,
  });
  assert.ok(data.customers.count >= 3, `count ${data.customers.count}`);
  assert.equal(data.customers.items.length, 3);
  for (const c of data.customers.items) {
    assert.ok(c.email && Array.isArray(c.addresses) && Array.isArray(c.groups) && c.orders.items, JSON.stringify(c));
  }

  // A mutation.
  const { data: created } = await client.mutate({
    mutation: gql`mutation Create($email: String!) { create_customer(input: { email: $email, first_name: "Apollo" }) { id email first_name } }`,
    variables: { email: `apollo-${Date.now()}@example.com` },
  });
  assert.match(created.create_customer.id, /^cus_/);
  assert.equal(created.create_customer.first_name, 'Apollo');

  // An error's code, as Apollo Client 4 reports GraphQL errors.
  try {
    await client.query({ query: gql`query Missing { customer(id: "cus_missing") { id } }`, fetchPolicy: 'network-only' });
    assert.fail('a missing customer answered');
  } catch (err) {
    assert.ok(CombinedGraphQLErrors.is(err), `not GraphQL errors: ${err}`);
    assert.equal(err.errors[0].extensions.code, 'NOT_FOUND');
    assert.equal(err.errors[0].extensions.type, 'not_found');
  }

  // Automatic persisted queries: the first request sends the hash alone
  // and is told PERSISTED_QUERY_NOT_FOUND, the link sends the document
  // with it, and a second client (another cache) sends the hash alone and
  // is answered.
  const sha256 = (q) => createHash('sha256').update(q).digest('hex');
  const apqClient = () => new ApolloClient({
    link: ApolloLink.from([new PersistedQueryLink({ sha256 }), new HttpLink({ uri: url, headers: auth, fetch: recordingFetch })]),
    cache: new InMemoryCache(),
  });
  const countQuery = gql`query PersistedCount { customer_groups { count } }`;
  const before = sent.length;
  const first = await apqClient().query({ query: countQuery });
  const second = await apqClient().query({ query: countQuery });
  assert.equal(first.data.customer_groups.count, second.data.customer_groups.count);
  const apq = sent.slice(before);
  assert.equal(apq.length, 3, `APQ requests: ${JSON.stringify(apq)}`);
  assert.ok(!apq[0].query && apq[0].extensions.persistedQuery.sha256Hash, 'first: the hash alone');
  assert.ok(apq[1].query, 'second: the hash and the document, after PERSISTED_QUERY_NOT_FOUND');
  assert.ok(!apq[2].query, 'third (another client): the hash alone, answered');
  return 'Apollo Client 4: nested query, mutation, error codes, automatic persisted queries';
}

async function graphqlRequest() {
  const client = new GraphQLClient(url, { headers: auth });
  const data = await client.request(`query { customers(limit: 1) { count items { email } } }`);
  assert.equal(data.customers.items.length, 1);
  try {
    await client.request(`query { customers(limit: 101) { count } }`);
    assert.fail('limit 101 answered');
  } catch (err) {
    assert.ok(err instanceof ClientError, `${err}`);
    assert.equal(err.response.errors[0].extensions.code, 'INVALID_DATA');
  }
  return 'graphql-request: query and error code';
}

async function graphqlJS() {
  const query = getIntrospectionQuery({
    descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true,
  });
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...auth }, body: JSON.stringify({ query }) });
  const body = await res.json();
  assert.ok(!body.errors, `introspection: ${JSON.stringify(body.errors)}`);
  const introspected = buildClientSchema(body.data);
  assert.deepEqual(validateSchema(introspected), []);
  const written = buildSchema(readFileSync(process.env.SCHEMA_FILE, 'utf8'));
  const a = printSchema(lexicographicSortSchema(introspected));
  const b = printSchema(lexicographicSortSchema(written));
  if (a !== b) {
    const al = a.split('\n'); const bl = b.split('\n');
    const i = al.findIndex((l, n) => l !== bl[n]);
    assert.fail(`introspection differs from schema.graphqls at line ${i + 1}:\n  introspected: ${al[i]}\n  written:      ${bl[i]}`);
  }
  // The schema as a code generator reads it (genqlient's input).
  if (process.env.SDL_OUT) writeFileSync(process.env.SDL_OUT, printSchema(introspected) + '\n');
  return 'graphql-js: getIntrospectionQuery (every option), buildClientSchema, validateSchema, equal to schema.graphqls';
}

for (const run of [apolloClient, graphqlRequest, graphqlJS]) {
  try {
    console.log('ok  ', await run());
  } catch (err) {
    console.error('FAIL', run.name, err);
    process.exit(1);
  }
}
