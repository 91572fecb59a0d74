(&Method::GET, ["{{plural}}"] | ["{{plural}}", _]) => Policy::ApiRead,
(&Method::POST, ["{{plural}}"]) | (&Method::PUT | &Method::DELETE, ["{{plural}}", _]) => {
    Policy::ApiWrite
}
