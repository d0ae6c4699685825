//! Link `libhakmem.so` with `-z nodelete`: a `dlclose` must never unmap the
//! code of the process's allocator (its fork handlers and thread-exit hook
//! stay registered with libc).
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
