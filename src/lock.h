/* lock: one run at a time.  flock() on [general] lock_file, with our pid
 * written into it; the kernel drops the lock when the process dies, so a
 * kill -9 leaves nothing stale. */
#ifndef N4O_LOCK_H
#define N4O_LOCK_H

typedef struct run_lock run_lock;

/* Take the lock at PATH (its directory is created if missing) without
 * waiting.  Held elsewhere: NULL with ERR_LOCKED naming the holder's pid. */
run_lock *lock_acquire(const char *path);
void lock_release(run_lock *l);

#endif
