use wix_media_upload::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let obuf: usize = args[2].parse().unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .output_buffer_size(obuf)
        .build()
        .new_agent();
    let up = Uploader::builder().agent(agent).build().unwrap();
    let t = std::time::Instant::now();
    let done = up
        .upload(
            &args[1],
            Source::file(&args[3]).unwrap(),
            UploadOptions::new(),
        )
        .unwrap();
    eprintln!("{} {:?}", done.size, t.elapsed());
}
