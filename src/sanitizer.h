/*
 * Which sanitizer a translation unit is built under, in one place for
 * every layer: gcc says it with __SANITIZE_*__, clang with __has_feature.
 * CORUN__ASAN: AddressSanitizer; CORUN__TSAN: ThreadSanitizer.
 */
#ifndef CORUN_SANITIZER_H
#define CORUN_SANITIZER_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORUN__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORUN__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CORUN__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define CORUN__TSAN 1
#endif

#endif
