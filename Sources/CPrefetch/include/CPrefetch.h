// Software prefetch for the kernels: Swift has no prefetch instruction of its own. A static inline
// function is compiled into the Swift module that calls it, so it inlines to one instruction.
#ifndef CPREFETCH_H
#define CPREFETCH_H

/// Asks for the cache line holding `address` to be brought into all cache levels, for reading.
/// Never faults, whatever the address.
static inline __attribute__((always_inline)) void rlhf_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
