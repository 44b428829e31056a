// The Playground: GraphiQL with the server's endpoint and welcome tabs,
// which the server puts in the page (index.html's #config).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';

// Monaco runs its language services in workers, bundled beside this file.
const assets = new URL('.', import.meta.url);
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    const name = label === 'json' ? 'json' : label === 'graphql' ? 'graphql' : 'editor';
    return new Worker(new URL(`${name}.worker.js`, assets), { type: 'module' });
  },
};

const config = JSON.parse(document.getElementById('config').textContent);
const url = new URL(config.endpoint, location.href);
// Subscriptions go over a WebSocket to the same endpoint (ws: or wss:, as
// the page came); the Headers pane's Authorization travels in its
// connection_init.
const subscriptionUrl = new URL(url);
subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
const fetcher = createGraphiQLFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    defaultTabs={config.tabs}
    defaultEditorToolsVisibility="headers"
    shouldPersistHeaders
  />,
);
