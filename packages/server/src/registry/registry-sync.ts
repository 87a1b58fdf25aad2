/**
 * Keeps the registry caches of a deployment's processes in step (SPEC §5 across instances): a
 * registration made on one receiver is published on `logsrv:registry` before it is answered,
 * and every other process applies it on arrival. Pub/sub is at-most-once, so each process also
 * reloads the whole mapping from the store now and then (a notice lost with a dropped
 * connection is made good within `reloadMs`).
 */
import type { LogsrvRedis } from '../queue/redis/connect.js';
import { openRedis } from '../queue/redis/connect.js';
import type { RegistrationResult, Store } from '../store/store.js';
import type { SessionRegistry } from './session-registry.js';

const CHANNEL = 'logsrv:registry';

export class RegistrySync {
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly pub: LogsrvRedis,
    private readonly sub: LogsrvRedis,
  ) {}

  static async start(url: string, registry: SessionRegistry, store: Store, reloadMs = 30_000): Promise<RegistrySync> {
    const pub = await openRedis(url, { name: 'logsrv-registry' });
    const sub = await openRedis(url, { name: 'logsrv-registry-sub', blocking: true }).catch((err) => {
      pub.disconnect();
      throw err;
    });
    const sync = new RegistrySync(pub, sub);
    sub.on('message', (_c: string, text: string) => {
      try {
        registry.apply(JSON.parse(text) as RegistrationResult['mappings']);
      } catch {
        // Not ours: ignore.
      }
    });
    await sub.subscribe(CHANNEL);
    registry.announce = async (m) => {
      await pub.publish(CHANNEL, JSON.stringify(m)).catch(() => {});
    };
    sync.timer = setInterval(() => {
      void store
        .registryMappings()
        .then((m) => registry.apply({ users: m.users, terminals: m.terminals }))
        .catch(() => {});
    }, reloadMs);
    sync.timer.unref();
    return sync;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
