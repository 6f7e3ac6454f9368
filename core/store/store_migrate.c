/* Pagoda — the schema migration runner, once for both backends (the
 * backend supplies its transaction, lock and client calls through
 * pgd_store_migrator_t; the migrations themselves are its fixed texts). */
#include <errno.h>

#include "common/err.h"
#include "common/log.h"
#include "store/store_internal.h"

#define MOD "store"

int pgd_store_migrate(const pgd_store_migrator_t *mig, void *conn, char *err, size_t errlen) {
  const int latest = mig->list[mig->count - 1].version;
  const char *where = mig->where;
  char msg[256] = "";
  int64_t from = -1;
  for (size_t i = 0;; i++) {
    int64_t cur = 0;
    int rc = mig->begin(conn, msg, sizeof(msg));
    if (rc == 0) rc = mig->version(conn, &cur, msg, sizeof(msg));
    if (rc < 0) {
      mig->rollback(conn);
      return pgd_set_err(err, errlen, rc, "%s: cannot read the schema version: %s", where, msg);
    }
    if (cur > latest) {
      mig->rollback(conn);
      return pgd_set_err(err, errlen, -ENOTSUP,
                         "%s: database schema version %lld is newer than this pagoda knows (%d); "
                         "upgrade pagoda or use another database",
                         where, (long long)cur, latest);
    }
    if (from < 0) from = cur;
    while (i < mig->count && mig->list[i].version <= cur) i++;
    if (i >= mig->count) {
      rc = mig->commit(conn, msg, sizeof(msg));
      if (rc < 0) {
        mig->rollback(conn);
        return pgd_set_err(err, errlen, rc, "%s: %s", where, msg);
      }
      /* one line for the whole upgrade (daemon logs stay short) */
      if (cur > from)
        PGD_INFO(MOD, "%s: schema migrated from version %lld to %lld", where, (long long)from,
                 (long long)cur);
      return 0;
    }
    const pgd_store_migration_t *m = &mig->list[i];
    rc = mig->apply(conn, m, msg, sizeof(msg));
    if (rc == 0) rc = mig->commit(conn, msg, sizeof(msg));
    if (rc < 0) {
      mig->rollback(conn);
      return pgd_set_err(err, errlen, rc, "%s: migration %d (%s) failed: %s", where, m->version,
                         m->description, msg);
    }
    PGD_DEBUG(MOD, "%s: schema migrated to version %d (%s)", where, m->version, m->description);
  }
}
