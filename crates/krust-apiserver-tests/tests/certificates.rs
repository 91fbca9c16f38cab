//! CertificateSigningRequests through the API (`certificates.k8s.io/v1`): the requester
//! recorded by the server, `/approval` and `/status` each changing only their part, and
//! bootstrap tokens over HTTPS (a valid one may request certificates and nothing else, a
//! wrong one gets 401).

use k8s_openapi::ByteString;
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition,
};
use k8s_openapi::api::core::v1::{Pod, Secret};
use krust_apiserver::bootstrap_token::BootstrapToken;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};

fn request(cn: &str) -> ByteString {
    let key = rcgen::KeyPair::generate().unwrap();
    let pem = krust_api::csr::write(cn, &["system:nodes"], &[], &[], &key).unwrap();
    ByteString(pem.into_bytes())
}

fn csr(name: &str, cn: &str) -> CertificateSigningRequest {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"request": request(cn), "signerName": "example.com/test",
                 "usages": ["client auth"], "username": "forged", "groups": ["system:forged"]},
    }))
    .unwrap()
}

fn approved() -> CertificateSigningRequestCondition {
    CertificateSigningRequestCondition {
        type_: "Approved".into(),
        status: "True".into(),
        reason: Some("Test".into()),
        ..Default::default()
    }
}

fn conditions(c: &CertificateSigningRequest) -> Vec<String> {
    c.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| c.type_.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_records_the_requester_and_only_approval_approves() {
    let server = krust_testkit::start().await;
    let api: Api<CertificateSigningRequest> = Api::all(server.client.clone());
    let created = api
        .create(&PostParams::default(), &csr("c1", "system:node:n1"))
        .await
        .unwrap();
    assert_eq!(created.spec.username.as_deref(), Some("kubernetes-admin"));
    assert_eq!(
        created.spec.groups.clone().unwrap(),
        ["system:masters", "system:authenticated"]
    );

    // /status may not approve.
    let mut via_status = created.clone();
    via_status
        .status
        .get_or_insert_with(Default::default)
        .conditions = Some(vec![approved()]);
    let after = api
        .replace_status("c1", &PostParams::default(), &via_status)
        .await
        .unwrap();
    assert!(conditions(&after).is_empty(), "{:?}", conditions(&after));

    // /approval approves, and changes nothing else.
    let mut via_approval = after.clone();
    via_approval
        .status
        .get_or_insert_with(Default::default)
        .conditions = Some(vec![approved()]);
    via_approval.spec.signer_name = "example.com/other".into();
    let after = api
        .replace_subresource("approval", "c1", &PostParams::default(), &via_approval)
        .await
        .unwrap();
    assert_eq!(conditions(&after), ["Approved"]);
    assert_eq!(after.spec.signer_name, "example.com/test");
    let condition = &after.status.as_ref().unwrap().conditions.as_ref().unwrap()[0];
    assert!(condition.last_update_time.is_some() && condition.last_transition_time.is_some());

    // The main resource changes only metadata.
    let mut relabelled = after.clone();
    relabelled.labels_mut().insert("a".into(), "b".into());
    relabelled.status = None;
    let after = api
        .replace("c1", &PostParams::default(), &relabelled)
        .await
        .unwrap();
    assert_eq!(after.labels().get("a").map(String::as_str), Some("b"));
    assert_eq!(conditions(&after), ["Approved"]);

    // Denied beside Approved is invalid.
    let mut both = after.clone();
    let mut denied = approved();
    denied.type_ = "Denied".into();
    both.status
        .as_mut()
        .unwrap()
        .conditions
        .as_mut()
        .unwrap()
        .push(denied);
    let err = api
        .replace_subresource("approval", "c1", &PostParams::default(), &both)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(e) if e.code == 422 && e.message.contains("mutually exclusive")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_token_requests_certificates_and_nothing_else() {
    let server = krust_testkit::start().await;
    let token = BootstrapToken::generate();
    let secret: Secret = serde_json::from_value(token.secret("test", None)).unwrap();
    Api::<Secret>::namespaced(server.client.clone(), "kube-system")
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let as_token = |t: String| {
        let url = server.running.url.clone();
        let ca = server.running.pki.ca_cert.clone();
        async move {
            use base64::Engine;
            let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
            let yaml = format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n    certificate-authority-data: {}\nusers:\n- name: u\n  user:\n    token: {t}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n",
                encode(ca.as_bytes())
            );
            let config = kube::Config::from_custom_kubeconfig(
                Kubeconfig::from_yaml(&yaml).unwrap(),
                &KubeConfigOptions::default(),
            )
            .await
            .unwrap();
            Client::try_from(config).unwrap()
        }
    };
    let client = as_token(token.text()).await;
    let csrs: Api<CertificateSigningRequest> = Api::all(client.clone());
    let created = csrs
        .create(&PostParams::default(), &csr("node-csr-1", "system:node:n1"))
        .await
        .unwrap();
    assert_eq!(
        created.spec.username.unwrap(),
        format!("system:bootstrap:{}", token.id)
    );
    assert_eq!(
        created.spec.groups.unwrap(),
        ["system:bootstrappers", "system:authenticated"]
    );
    csrs.list(&ListParams::default()).await.unwrap();
    let err = Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(e) if e.code == 403 && e.message == format!(
            "pods is forbidden: User \"system:bootstrap:{}\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"", token.id)),
        "{err}"
    );
    let wrong = as_token(format!("{}.0000000000000000", token.id)).await;
    let err = Api::<CertificateSigningRequest>::all(wrong)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(e) if e.code == 401),
        "{err}"
    );
}
