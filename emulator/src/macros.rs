//! The crate's builder-setter macro.

/// Builder setters, one line each: `name(arg: Type) => field = value;` makes
/// `pub fn name(mut self, arg: Type) -> Self`, which sets `self.field` to `value` and returns
/// `self` (`field` may be a path such as `http.user_agent`). Setters that do more than set
/// one field are written out.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $($field:ident).+ = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$($field).+ = $value;
                self
            }
        )*
    };
}
pub(crate) use setters;
