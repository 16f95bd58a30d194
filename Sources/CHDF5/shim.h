// HDF5's constants that Swift cannot import, as inline functions.
//
// Many HDF5 "constants" are macros that expand to comma expressions (`(H5open(), H5T_NATIVE_FLOAT_g)`)
// or casts (`H5T_VARIABLE`); Swift imports neither, and the `*_g` globals behind them are mutable C
// globals that Swift 6 refuses to touch. Each function here evaluates the macro in C instead.
#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H

#include <hdf5.h>

// Data types.
static inline hid_t chdf5_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t chdf5_ieee_f32le(void)    { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_ieee_f64le(void)    { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_std_i64le(void)     { return H5T_STD_I64LE; }
static inline hid_t chdf5_std_u64le(void)     { return H5T_STD_U64LE; }
static inline hid_t chdf5_c_s1(void)          { return H5T_C_S1; }
/// The size that makes a string type variable-length (`H5T_VARIABLE` is a cast Swift cannot import).
static inline size_t chdf5_variable(void)     { return H5T_VARIABLE; }

// Property list classes and defaults.
static inline hid_t chdf5_p_default(void)        { return H5P_DEFAULT; }
static inline hid_t chdf5_p_file_access(void)    { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_s_all(void)            { return H5S_ALL; }
static inline hid_t chdf5_e_default(void)        { return H5E_DEFAULT; }

// File access: flags, and the newest object format this library writes (a macro alias of an enum value).
static inline H5F_libver_t chdf5_libver_latest(void) { return H5F_LIBVER_LATEST; }
static inline unsigned chdf5_f_acc_trunc(void)  { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_f_acc_excl(void)   { return H5F_ACC_EXCL; }
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_rdwr(void)   { return H5F_ACC_RDWR; }

/// Turns off HDF5's automatic printing of its error stack (the `HDF5-DIAG` lines on stderr).
/// Error stacks are per thread, so this silences only the calling thread: call it on every thread
/// that calls HDF5, before the first call.
static inline herr_t chdf5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

#endif
