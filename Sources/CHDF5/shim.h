// What Swift cannot express against HDF5 directly, as inline C:
//
// 1. Constants. Many HDF5 "constants" are macros that expand to comma expressions
//    (`(H5open(), H5T_NATIVE_FLOAT_g)`) or casts (`H5T_VARIABLE`); Swift imports neither, and the
//    `*_g` globals behind them are mutable C globals that Swift 6 refuses to touch. Each function
//    below evaluates the macro in C instead.
// 2. The file-image allocator (end of file): C callbacks through which the core driver allocates a
//    file's memory, kept past H5Fclose so the caller can write the finished file itself; and a
//    read-only view through which it reads a file the caller has in memory, without copying it.
#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H

#include <hdf5.h>
#include <string.h>
#include <sys/mman.h>

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
static inline hid_t chdf5_p_file_create(void)    { return H5P_FILE_CREATE; }
static inline hid_t chdf5_s_all(void)            { return H5S_ALL; }

// File access: flags, and the newest object format this library writes (a macro alias of an enum value).
static inline H5F_libver_t chdf5_libver_latest(void) { return H5F_LIBVER_LATEST; }
static inline unsigned chdf5_f_acc_trunc(void)  { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_rdwr(void)   { return H5F_ACC_RDWR; }

/// Turns off HDF5's automatic printing of its error stack (the `HDF5-DIAG` lines on stderr).
/// Error stacks are per thread, so this silences only the calling thread: call it on every thread
/// that calls HDF5, before the first call.
static inline herr_t chdf5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// MARK: A file built in memory, kept past H5Fclose

/// The memory of a file created with the core driver (no backing store). The callbacks below let the
/// driver allocate and grow it as usual, but keep it when the driver frees it at file close, so the
/// complete, cleanly closed file image can be written out by the caller, who then calls
/// `chdf5_image_release`. The memory is mapped directly and advised to use huge pages: a checkpoint
/// image is hundreds of MB touched once, where 4 KiB page faults would cost more than the copying.
typedef struct {
    void *data;
    size_t capacity;
} chdf5_image;

static inline void *chdf5_image_map(size_t size) {
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(memory, size, MADV_HUGEPAGE);  // a hint: fine to fail
#endif
    return memory;
}

static inline void *chdf5_image_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op;
    chdf5_image *image = (chdf5_image *)udata;
    image->data = chdf5_image_map(size);
    image->capacity = image->data ? size : 0;
    return image->data;
}

static inline void *chdf5_image_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                                       void *udata) {
    (void)op; (void)udata;
    return memcpy(dest, src, size);
}

static inline void chdf5_image_release(chdf5_image *image);

/// Growth is rare (the driver's increment is the expected file size): map anew and copy.
static inline void *chdf5_image_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op;
    chdf5_image *image = (chdf5_image *)udata;
    void *grown = chdf5_image_map(size);
    if (grown == NULL) return NULL;
    if (ptr) memcpy(grown, ptr, image->capacity < size ? image->capacity : size);
    chdf5_image_release(image);
    image->data = grown;
    image->capacity = size;
    return grown;
}

/// Unmaps the image (after its bytes have been written out).
static inline void chdf5_image_release(chdf5_image *image) {
    if (image->data) munmap(image->data, image->capacity);
    image->data = NULL;
    image->capacity = 0;
}

static inline herr_t chdf5_image_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
    chdf5_image *image = (chdf5_image *)udata;
    if (ptr != image->data) return -1;  // the driver only ever holds this one block
    if (op != H5FD_FILE_IMAGE_OP_FILE_CLOSE) chdf5_image_release(image);  // at close the caller takes it
    return 0;
}

// HDF5 copies the callbacks with every copy of the property list; all copies share one image.
static inline void *chdf5_image_udata_copy(void *udata) { return udata; }
static inline herr_t chdf5_image_udata_free(void *udata) { (void)udata; return 0; }

/// Installs the callbacks on a file access property list already set to the core driver.
static inline herr_t chdf5_keep_image(hid_t fapl, chdf5_image *image) {
    H5FD_file_image_callbacks_t callbacks = {
        chdf5_image_malloc, chdf5_image_memcpy, chdf5_image_realloc, chdf5_image_free,
        chdf5_image_udata_copy, chdf5_image_udata_free, image,
    };
    return H5Pset_file_image_callbacks(fapl, &callbacks);
}

// MARK: A file read from the caller's memory

/// Bytes the caller owns (a whole file, already verified), opened read-only by the core driver in
/// place. The callbacks hand HDF5 these bytes whenever it asks for memory for the image, skip its
/// copies of them onto themselves, and free nothing: the caller releases the bytes after H5Fclose.
typedef struct {
    void *data;
    size_t size;
} chdf5_view;

static inline void *chdf5_view_malloc(size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op;
    chdf5_view *view = (chdf5_view *)udata;
    return size == view->size ? view->data : NULL;
}

static inline void *chdf5_view_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)op; (void)udata;
    if (dest != src) memcpy(dest, src, size);  // always the same bytes: nothing to copy
    return dest;
}

static inline void *chdf5_view_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata) {
    (void)ptr; (void)size; (void)op; (void)udata;
    return NULL;  // read-only: never grows
}

static inline herr_t chdf5_view_free(void *ptr, H5FD_file_image_op_t op, void *udata) {
    (void)ptr; (void)op; (void)udata;
    return 0;
}

/// Sets the view as the file image of a file access property list already set to the core driver.
static inline herr_t chdf5_open_view(hid_t fapl, chdf5_view *view) {
    H5FD_file_image_callbacks_t callbacks = {
        chdf5_view_malloc, chdf5_view_memcpy, chdf5_view_realloc, chdf5_view_free,
        chdf5_image_udata_copy, chdf5_image_udata_free, view,
    };
    if (H5Pset_file_image_callbacks(fapl, &callbacks) < 0) return -1;
    return H5Pset_file_image(fapl, view->data, view->size);
}

#endif
