/** The Store contract against PostgreSQL: a fresh database per run on the machine's server, dropped after. */
import { PostgresStore } from '@logsrv/server';
import { storeContract } from './contract/store-contract.ts';
import { tempDatabase } from './pg-helpers.ts';

storeContract('postgres', async () => {
  const db = await tempDatabase('logsrv_contract');
  if (!db) return null;
  const store = await PostgresStore.open(db.url);
  return {
    store,
    async dispose() {
      await store.close();
      await db.drop();
    },
  };
});
