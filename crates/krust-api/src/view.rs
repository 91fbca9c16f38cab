//! Views of core/v1 kinds: structs that decode only the fields their reader uses (the
//! scheduler's informers, the sim kubelet), served by the API as the full kinds.

#[doc(hidden)]
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Implements `kube::Resource` for a view of a core/v1 kind (`$kind`, plural `$plural`,
/// `$scope` a `k8s_openapi` scope), a struct with a `metadata: ObjectMeta` field, so that
/// kube-rs `Api`s and watchers decode into it. The calling crate depends on `kube`.
#[macro_export]
macro_rules! core_v1_view {
    ($ty:ty, $kind:literal, $plural:literal, $scope:ty) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($kind)
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed("")
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed("v1")
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed($plural)
            }
            fn meta(&self) -> &$crate::view::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut $crate::view::ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
