(&Method::GET, ["{{plural}}"] | ["{{plural}}", _]) => Policy::ApiRead,
(&Method::POST, ["{{plural}}"]) => Policy::ApiWrite,
(&Method::PUT | &Method::DELETE, ["{{plural}}", _]) => Policy::ApiWrite,
