#pragma once

// Clang thread-safety analysis attributes (leveldb/abseil style). They expand to nothing
// on other compilers; the clang-14 build runs with -Wthread-safety -Werror=thread-safety.
#if defined(__clang__)
#define LOCKSTEP_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define LOCKSTEP_THREAD_ANNOTATION_(x)
#endif

#define LOCKSTEP_CAPABILITY(x) LOCKSTEP_THREAD_ANNOTATION_(capability(x))
#define LOCKSTEP_SCOPED_CAPABILITY LOCKSTEP_THREAD_ANNOTATION_(scoped_lockable)
#define LOCKSTEP_GUARDED_BY(x) LOCKSTEP_THREAD_ANNOTATION_(guarded_by(x))
#define LOCKSTEP_PT_GUARDED_BY(x) LOCKSTEP_THREAD_ANNOTATION_(pt_guarded_by(x))
#define LOCKSTEP_REQUIRES(...) LOCKSTEP_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define LOCKSTEP_ACQUIRE(...) LOCKSTEP_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define LOCKSTEP_RELEASE(...) LOCKSTEP_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define LOCKSTEP_TRY_ACQUIRE(...) LOCKSTEP_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define LOCKSTEP_EXCLUDES(...) LOCKSTEP_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define LOCKSTEP_RETURN_CAPABILITY(x) LOCKSTEP_THREAD_ANNOTATION_(lock_returned(x))
#define LOCKSTEP_NO_THREAD_SAFETY_ANALYSIS LOCKSTEP_THREAD_ANNOTATION_(no_thread_safety_analysis)
