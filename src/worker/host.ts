// Routes protocol requests to an EngineService and posts what comes back: exactly one final reply per request
// (an 'error' one included), progress and previews on the way, nothing ever thrown out. engine.worker.ts plugs it
// into `self`; tests plug it into a plain function.
import { EngineService } from './engine_service.ts';
import { EngineError, replyTransfer, toWireError, type EngineReply, type EngineRequest } from './protocol.ts';

export type Post = (reply: EngineReply, transfer: Transferable[]) => void;

export class EngineHost {
  /** Loads and edits in flight, by request id, for 'cancel'. */
  private readonly running = new Map<number, AbortController>();

  constructor(
    private readonly service: EngineService,
    private readonly post: Post,
  ) {
    service.onDeviceLost((message) => this.send({ type: 'deviceLost', id: 0, message }));
  }

  private send(reply: EngineReply): void {
    this.post(reply, replyTransfer(reply));
  }

  /** Never rejects: every failure becomes an 'error' reply with the request's id. */
  async handle(req: EngineRequest): Promise<void> {
    const id = typeof req === 'object' && req !== null && typeof req.id === 'number' ? req.id : 0;
    try {
      await this.dispatch(req, id);
    } catch (e) {
      const err = e instanceof EngineError ? e : new EngineError('internal', e instanceof Error ? e.message : String(e));
      this.send({ type: 'error', id, error: toWireError(err) });
    }
  }

  private track(id: number): AbortController {
    const ac = new AbortController();
    this.running.set(id, ac);
    return ac;
  }

  private async dispatch(req: EngineRequest, id: number): Promise<void> {
    const s = this.service;
    switch (req?.type) {
      case 'init':
        return this.send({ type: 'ready', id, adapter: await s.init() });
      case 'plan':
        return this.send({ type: 'plan', id, plan: await s.plan(req.source) });
      case 'load': {
        const ac = this.track(id);
        try {
          const model = await s.load(req.source, (progress) => this.send({ type: 'loadProgress', id, progress }), ac.signal);
          return this.send({ type: 'loaded', id, model });
        } finally {
          this.running.delete(id);
        }
      }
      case 'edit': {
        const ac = this.track(id);
        try {
          const output = await s.edit(
            req.job,
            {
              onProgress: (progress) => this.send({ type: 'progress', id, progress }),
              onPreview: (image, step) => this.send({ type: 'preview', id, step, image }),
            },
            ac.signal,
          );
          return this.send({ type: 'result', id, output });
        } finally {
          this.running.delete(id);
        }
      }
      case 'cancel':
        this.running.get(req.target)?.abort();
        return; // no reply: the cancelled request answers 'cancelled' itself
      case 'tokenCount':
        return this.send({ type: 'tokenCount', id, count: s.tokenCount(req.text) });
      case 'cacheList':
        return this.send({ type: 'cacheList', id, entries: await s.cacheList() });
      case 'cacheDelete':
        await s.cacheDelete(req.key);
        return this.send({ type: 'done', id });
      case 'cacheClear':
        await s.cacheClear();
        return this.send({ type: 'done', id });
      default:
        throw new EngineError('bad-request', `unknown request ${JSON.stringify((req as { type?: unknown } | null)?.type)}`);
    }
  }
}
