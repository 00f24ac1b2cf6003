//! One request to one response: method, then path, then representation
//! (gzip or not), then validators. Reads only the request head.

use hyper::{Method, Request, Response};

use super::response::{self, Body};
use super::{Site, conditional, negotiate, path};

/// The response to `request`; its body, if any, is never read.
pub(crate) fn respond<B>(site: &Site, request: &Request<B>) -> Response<Body> {
    let head = match *request.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return response::method_not_allowed(),
    };
    let snapshot = site.snapshot();
    let Some(served) = path::key(request.uri().path()).and_then(|key| snapshot.get(&key)) else {
        return response::not_found(head);
    };
    let headers = request.headers();
    let variant = served.variant(negotiate::accepts_gzip(headers));
    if conditional::not_modified(headers, variant, served.last_modified) {
        return response::not_modified(served, variant, site.cache_control());
    }
    response::artifact(served, variant, site.cache_control(), head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{Artifact, media};
    use chrono::{TimeZone, Utc};
    use hyper::StatusCode;
    use hyper::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, IF_NONE_MATCH, VARY};
    use std::time::Duration;

    fn site() -> Site {
        let site = Site::new(Duration::from_secs(60));
        let updated = Utc.with_ymd_and_hms(2025, 3, 10, 10, 0, 0).unwrap();
        let body = "<feed>".repeat(50).into_bytes();
        site.replace(vec![Artifact { path: "index.html".into(), content_type: media::HTML, body, updated }]);
        site
    }

    fn request(method: Method, uri: &str, headers: &[(hyper::header::HeaderName, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn root_is_the_index_and_other_methods_are_refused() {
        let site = site();
        let ok = respond(&site, &request(Method::GET, "/", &[]));
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[CONTENT_LENGTH], "300");
        assert_eq!(ok.headers()[VARY], "Accept-Encoding");
        assert_eq!(respond(&site, &request(Method::POST, "/", &[])).status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(respond(&site, &request(Method::GET, "/nope", &[])).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_gzip_copy_is_validated_by_its_own_etag() {
        let site = site();
        let gz = respond(&site, &request(Method::GET, "/index.html?x=1", &[(ACCEPT_ENCODING, "gzip")]));
        assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip");
        let etag = gz.headers()[ETAG].to_str().unwrap().to_owned();
        let again = [(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, etag.as_str())];
        assert_eq!(respond(&site, &request(Method::GET, "/", &again)).status(), StatusCode::NOT_MODIFIED);
        let plain = respond(&site, &request(Method::GET, "/", &[(IF_NONE_MATCH, etag.as_str())]));
        assert_eq!(plain.status(), StatusCode::OK, "the identity bytes are another representation");
    }
}
