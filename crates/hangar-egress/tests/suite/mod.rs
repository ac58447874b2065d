mod address;
mod curl;
mod policy;
mod proxy;
mod support;
mod web_fetch;
mod web_search;
