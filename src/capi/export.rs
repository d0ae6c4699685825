//! The C names: [`export_c_api!`](crate::export_c_api) expands to
//! `#[no_mangle]` one-line forwards to [`crate::capi`], once in `libhakmem.so`
//! (the `capi/` package) and once in this crate under the `override`
//! feature, so both export exactly the same list.

/// Export the C malloc API (`malloc`, `free`, ..., glibc's `__libc_*`
/// names) from the invoking crate as `#[no_mangle]` forwards to
/// [`hakmem_alloc::capi`](crate::capi). Invoke once per linked image.
#[macro_export]
#[doc(hidden)]
macro_rules! export_c_api {
    () => {
        #[allow(missing_docs, clippy::missing_safety_doc, clippy::undocumented_unsafe_blocks)]
        mod hakmem_c_exports {
            use core::ffi::{c_int, c_void};
            use $crate::capi as c;

            #[no_mangle]
            pub extern "C" fn malloc(size: usize) -> *mut c_void {
                c::malloc(size)
            }
            #[no_mangle]
            pub unsafe extern "C" fn free(p: *mut c_void) {
                unsafe { c::free(p) }
            }
            #[no_mangle]
            pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
                c::calloc(n, size)
            }
            #[no_mangle]
            pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
                unsafe { c::realloc(p, size) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
                unsafe { c::reallocarray(p, n, size) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
                unsafe { c::posix_memalign(out, align, size) }
            }
            #[no_mangle]
            pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
                c::aligned_alloc(align, size)
            }
            #[no_mangle]
            pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
                c::memalign(align, size)
            }
            #[no_mangle]
            pub extern "C" fn valloc(size: usize) -> *mut c_void {
                c::valloc(size)
            }
            #[no_mangle]
            pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
                c::pvalloc(size)
            }
            #[no_mangle]
            pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
                unsafe { c::malloc_usable_size(p) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn free_sized(p: *mut c_void, size: usize) {
                unsafe { c::free_sized(p, size) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn free_aligned_sized(p: *mut c_void, align: usize, size: usize) {
                unsafe { c::free_aligned_sized(p, align, size) }
            }
            #[no_mangle]
            pub extern "C" fn malloc_trim(pad: usize) -> c_int {
                c::malloc_trim(pad)
            }
            #[no_mangle]
            pub extern "C" fn mallopt(param: c_int, value: c_int) -> c_int {
                c::mallopt(param, value)
            }
            #[no_mangle]
            pub extern "C" fn mallinfo2() -> c::MallInfo2 {
                c::mallinfo2()
            }
            #[no_mangle]
            pub extern "C" fn mallinfo() -> c::MallInfo {
                c::mallinfo()
            }
            // glibc's internal names, so no part of the process keeps a second heap.
            #[no_mangle]
            pub extern "C" fn __libc_malloc(size: usize) -> *mut c_void {
                c::malloc(size)
            }
            #[no_mangle]
            pub unsafe extern "C" fn __libc_free(p: *mut c_void) {
                unsafe { c::free(p) }
            }
            #[no_mangle]
            pub extern "C" fn __libc_calloc(n: usize, size: usize) -> *mut c_void {
                c::calloc(n, size)
            }
            #[no_mangle]
            pub unsafe extern "C" fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void {
                unsafe { c::realloc(p, size) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn __libc_reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
                unsafe { c::reallocarray(p, n, size) }
            }
            #[no_mangle]
            pub extern "C" fn __libc_memalign(align: usize, size: usize) -> *mut c_void {
                c::memalign(align, size)
            }
            #[no_mangle]
            pub extern "C" fn __libc_valloc(size: usize) -> *mut c_void {
                c::valloc(size)
            }
            #[no_mangle]
            pub extern "C" fn __libc_pvalloc(size: usize) -> *mut c_void {
                c::pvalloc(size)
            }
            #[no_mangle]
            pub extern "C" fn __libc_mallopt(param: c_int, value: c_int) -> c_int {
                c::mallopt(param, value)
            }
            #[no_mangle]
            pub extern "C" fn __libc_mallinfo() -> c::MallInfo {
                c::mallinfo()
            }
            #[no_mangle]
            pub unsafe extern "C" fn __posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
                unsafe { c::posix_memalign(out, align, size) }
            }
            // Deprecated `cfree`, still exported by glibc.
            #[no_mangle]
            pub unsafe extern "C" fn cfree(p: *mut c_void) {
                unsafe { c::free(p) }
            }
        }
    };
}
