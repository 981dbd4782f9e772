// Module worker for browser tests: runs a suite off the main thread, as the app's engine worker will.
import { runSuite, serializeError, type RunReply, type RunRequest } from './suites.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = async (ev: MessageEvent<RunRequest>) => {
  const { id, suite, args } = ev.data;
  let reply: RunReply;
  try {
    reply = { type: 'result', id, result: await runSuite(suite, args) };
  } catch (e) {
    reply = { type: 'error', id, error: serializeError(e) };
  }
  scope.postMessage(reply);
};
